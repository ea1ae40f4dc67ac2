// Swagger UI for this server's own contract. Requests are marked as XHR so that a 401
// carries no Basic challenge (a browser would answer one with its own login dialog), and
// carry cookies, so a session from POST /kylin/api/user/authentication serves later
// cookie-only calls.
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
      return req;
    },
  });
};
