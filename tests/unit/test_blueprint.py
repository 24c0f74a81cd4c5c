"""The services' Blueprint parses arguments with one schema instance per class (shared/web/blueprint.py)."""

from __future__ import annotations

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, fields

from shared.web.blueprint import Blueprint, SchemaOnceParser


class Query(Schema):
    name = fields.String(required=True)
    page = fields.Integer(load_default=1)

    built = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        Query.built += 1


def test_a_schema_class_is_built_once_and_parses_every_request():
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("things", __name__)

    @blp.route("/things")
    class Things(MethodView):
        @blp.arguments(Query, location="query")
        def get(self, query):
            return {"name": query["name"], "page": query["page"]}

    api.register_blueprint(blp)
    client = app.test_client()
    built = Query.built
    assert client.get("/things?name=a").get_json() == {"name": "a", "page": 1}
    assert client.get("/things?name=b&page=3").get_json() == {"name": "b", "page": 3}
    assert client.get("/things").status_code == 422  # still validated: name is required
    assert Query.built - built <= 1  # webargs alone would build one per request: three


def test_an_instance_or_a_mapping_is_left_to_webargs():
    parser = SchemaOnceParser()
    given = Query()
    assert parser._get_schema(given, None) is given
    assert parser._get_schema(Query, None) is parser._get_schema(Query, None)
    assert set(parser._get_schema({"x": fields.Integer()}, None).fields) == {"x"}
