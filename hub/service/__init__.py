"""The sabaq service: REST API and web pages behind the hub."""
