// Swagger UI on a service's OpenAPI, served by the console; "try it out" goes through the console's
// proxy, which adds the user's token. A change carries the session's CSRF token.
(function () {
  "use strict";
  var element = document.getElementById("swagger");
  if (!element || !window.SwaggerUIBundle) { return; }
  var csrf = document.querySelector("meta[name=csrf-token]").getAttribute("content");
  window.SwaggerUIBundle({
    url: element.getAttribute("data-spec"),
    domNode: element,
    deepLinking: true,
    requestInterceptor: function (request) {
      request.headers["X-CSRF-Token"] = csrf;
      return request;
    }
  });
})();
