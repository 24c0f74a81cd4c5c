"""The system as a whole, above the services: the ``titles`` command line, the process supervisor
of ``titles run`` and the registry of the services' bootstrap modules. Nothing below imports it."""
