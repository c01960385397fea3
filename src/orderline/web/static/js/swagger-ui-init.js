// Starts Swagger UI on /docs (api_docs/swagger_ui.html): a file, because the CSP forbids inline
// scripts. validatorUrl: null keeps it from asking validator.swagger.io about the document.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    docExpansion: "none",
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    showExtensions: true,
    showCommonExtensions: true,
  });
})();
