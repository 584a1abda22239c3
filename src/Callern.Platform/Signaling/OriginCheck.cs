using Callern.Platform.Tenancy;

namespace Callern.Platform.Signaling;

/// <summary>
/// Browsers do not apply CORS to WebSockets, so a page on any site could open the hub with a token
/// it got hold of. A browser always sends Origin: when the tenant lists allowed origins, any other
/// origin is refused (403) before the connection exists. Non-browser clients send no Origin and
/// are let through; an empty list allows every origin.
/// </summary>
public static class OriginCheck
{
    public static async Task RunAsync(HttpContext http, RequestDelegate next)
    {
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && http.User.Caller() is { } caller)
        {
            var allowed = (await http.RequestServices.GetRequiredService<SettingsStore>().GetAsync(caller.TenantId)).AllowedOrigins;
            if (allowed.Count > 0 && !allowed.Contains(origin, StringComparer.OrdinalIgnoreCase))
            {
                await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed.",
                    detail: "Add this origin to the school's allowedOrigins setting.").ExecuteAsync(http);
                return;
            }
        }
        await next(http);
    }
}
