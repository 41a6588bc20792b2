"""The route matrix's rows for search (issue 7 item 1; docs/search.md; see test_route_matrix.py for the
kinds and outcomes). Searching requests is reading requests: the allow set is request.read's
(matrix_requests.READ). A cell searches one tenant's requests by `client_id`: a client user naming
client B is hidden (404), and B's request subject (matrix_requests' secret) reaches no client A user."""
import urllib.parse

import matrix_requests as mr

ROUTES = {
    ("GET", "/api/v1/search"): dict(kind="client", allow=mr.READ),
    ("GET", "/search"): dict(kind="client", allow=mr.READ),
}


def request(site, route, actor, t, n):
    method, pattern = route
    mr._shared(site, t)  # a request whose subject is this tenant's secret, to be found or not
    q = urllib.parse.urlencode({"q": "工单", "client_id": site.client[t]})
    return method, pattern + "?" + q, None
