"""Docker-free local stack: moto server, the template's HTTP API, a stand-in Woosh Bridge and event pumps."""
