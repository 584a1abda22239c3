using Microsoft.AspNetCore.Cors.Infrastructure;

namespace Callern.Platform.Tenancy;

/// <summary>
/// CORS for a school's web pages on other origins, which call the REST API and open the hub from a
/// browser (the TypeScript SDK does both with a bearer token). A preflight is answered for an
/// origin the platform knows (<see cref="BrowserOrigins.IsKnownAsync"/>), whose refusal on the real
/// request (<see cref="OriginCheck"/>) the page can then read. Credentials are allowed because the
/// SignalR browser client sends its negotiate request with them. The origin probe
/// (<see cref="OriginEndpoints"/>) answers every origin, without credentials.
/// </summary>
public sealed class OriginCors(BrowserOrigins origins) : ICorsPolicyProvider
{
    public const string AnyOrigin = "any-origin";

    private static readonly CorsPolicy Known = new CorsPolicyBuilder()
        .SetIsOriginAllowed(_ => true) // only handed out after the origin was found known
        .AllowAnyHeader()
        .AllowAnyMethod()
        .AllowCredentials()
        .WithExposedHeaders("Content-Disposition", "Idempotent-Replayed", "Retry-After")
        .Build();

    private static readonly CorsPolicy Unknown = new CorsPolicyBuilder().Build();

    private static readonly CorsPolicy Probe = new CorsPolicyBuilder().AllowAnyOrigin().WithMethods("GET").Build();

    public async Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName)
    {
        if (policyName == AnyOrigin)
        {
            return Probe;
        }
        var origin = context.Request.Headers.Origin.ToString();
        return origin.Length > 0 && await origins.IsKnownAsync(origin) ? Known : Unknown;
    }
}
