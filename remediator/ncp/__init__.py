"""The CDSS API side: signature v2 (pure), sites and regions, and the HTTP client."""
