-- One database per service (see DATABASE_URL in docker-compose.yml:
-- postgresql+psycopg://...@postgres:5432/titles_{service}).
--
-- The postgres image runs this file once, as POSTGRES_USER, when it
-- initialises an empty data volume; the databases are owned by that user.
-- On an existing volume it is not run again: create a missing database by
-- hand, or `docker compose down -v` to start from nothing.
CREATE DATABASE titles_profile;
CREATE DATABASE titles_declaration;
CREATE DATABASE titles_review;
CREATE DATABASE titles_certificate;
CREATE DATABASE titles_notify;
