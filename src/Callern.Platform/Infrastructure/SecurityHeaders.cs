using Microsoft.Net.Http.Headers;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// Headers on every response, errors included (docs/security.md, "Headers"):
/// <list type="bullet">
/// <item><c>X-Content-Type-Options: nosniff</c>: a browser never re-types an answer, a shared file or an error into a page or a script.</item>
/// <item><c>X-Frame-Options: DENY</c> and <c>Content-Security-Policy: frame-ancestors 'none'</c>: no page
/// frames the platform (the Swagger UI at /docs included), so nothing of it can be clickjacked.</item>
/// <item><c>Cache-Control: no-store</c> on the API and the hub (<c>/v1</c>, <c>/hubs</c>): their answers carry
/// tokens, API key secrets, TURN credentials, signed links and private data, which no browser or proxy
/// cache may keep.</item>
/// </list>
/// HSTS is not sent: the platform speaks plain HTTP behind the TLS terminator that must add it.
/// </summary>
public static class SecurityHeaders
{
    public const string FrameAncestorsNone = "frame-ancestors 'none'";

    public static WebApplication UseSecurityHeaders(this WebApplication app)
    {
        app.Use((http, next) =>
        {
            http.Response.OnStarting(static state =>
            {
                var http = (HttpContext)state;
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers.ContentSecurityPolicy = FrameAncestorsNone;
                if (PrivatePath(http.Request.Path))
                {
                    headers.CacheControl = "no-store";
                    headers.Pragma = "no-cache";
                }
                return Task.CompletedTask;
            }, http);
            return next(http);
        });
        return app;
    }

    private static bool PrivatePath(PathString path) =>
        path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/hubs", StringComparison.OrdinalIgnoreCase);
}
