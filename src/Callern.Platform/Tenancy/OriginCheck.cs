namespace Callern.Platform.Tenancy;

/// <summary>
/// Browsers do not apply CORS to WebSockets, and a preflight only says that some school lists an
/// origin: on every authenticated request (REST, the hub's negotiate and its WebSocket) a browser's
/// <c>Origin</c> must be the caller's own school's, the operator's, or the platform's own (Swagger
/// UI). Otherwise 403 with <c>code: origin_not_allowed</c>, before anything runs. Clients that are
/// not browsers send no Origin and are let through.
/// </summary>
public static class OriginCheck
{
    public const string Code = "origin_not_allowed";

    public static async Task RunAsync(HttpContext http, Func<Task> next)
    {
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && http.User.Caller() is { } caller && !SameOrigin(http.Request, origin)
            && !await http.RequestServices.GetRequiredService<BrowserOrigins>().IsAllowedAsync(origin, caller.TenantId))
        {
            await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed.",
                detail: $"The school does not list {origin} among its allowed origins: its admin adds it (POST /v1/settings/origins).",
                extensions: new Dictionary<string, object?> { ["code"] = Code }).ExecuteAsync(http);
            return;
        }
        await next();
    }

    private static bool SameOrigin(HttpRequest request, string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri) && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
}
