// Swagger UI for this server's own contract. Requests are marked as XHR so that a 401
// carries no Basic challenge (a browser would answer one with its own login dialog), and
// carry cookies, so a session from POST /kylin/api/user/authentication serves later
// cookie-only calls.
//
// Authorizing both API-key schemes (apiKeyHeader and apiKeyQuery) makes Swagger UI send
// the key twice, which the server refuses (400); the page then sends it once, in the
// X-API-Key header, which keeps it out of URLs and logs.
function hasHeader(headers, name) {
  name = name.toLowerCase();
  return Object.keys(headers || {}).some(function (k) {
    return k.toLowerCase() === name && headers[k];
  });
}

window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    withCredentials: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    requestInterceptor: function (req) {
      req.headers["X-Requested-With"] = "XMLHttpRequest";
      if (hasHeader(req.headers, "X-API-Key")) {
        var url = new URL(req.url, window.location.href);
        if (url.searchParams.has("key")) {
          url.searchParams.delete("key");
          req.url = url.toString();
        }
      }
      return req;
    },
  });
};
