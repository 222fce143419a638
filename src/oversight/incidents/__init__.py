"""Emergency response: incidents, response units, dispatch and response-time standards."""
