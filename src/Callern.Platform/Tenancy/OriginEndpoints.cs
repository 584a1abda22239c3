using Callern.Platform.Infrastructure;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Callern.Platform.Tenancy;

/// <summary>The origins a school lists, changed one at a time.</summary>
public sealed record AllowedOrigins(IReadOnlyList<string> Origins);

public sealed record AddOriginRequest(string? Origin);

/// <summary>
/// What the origin probe tells a page: whether the platform accepts browsers from its origin for
/// any school (what a preflight would say). Null origin: the caller is not a browser.
/// </summary>
public sealed record OriginProbe(string? Origin, bool Known);

/// <summary>
/// A school's admin adds and removes its web apps' origins (the <c>allowedOrigins</c> setting),
/// effective at once on every node; and the public origin probe, which SDKs ask when the platform
/// could not be reached from a page, to tell a refused origin from a platform that is down.
/// </summary>
public static class OriginEndpoints
{
    public static IServiceCollection AddOrigins(this IServiceCollection services) =>
        services.AddSingleton<BrowserOrigins>()
            .AddSingleton<ICorsPolicyProvider, OriginCors>()
            .AddCors();

    /// <summary>After authentication: the caller's school decides.</summary>
    public static WebApplication UseOriginCheck(this WebApplication app)
    {
        app.Use(OriginCheck.RunAsync);
        return app;
    }

    public static RouteGroupBuilder MapOrigins(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/origin-check", Probe).WithTags("Settings").AllowAnonymous().RequireCors(OriginCors.AnyOrigin)
            .WithName("CheckOrigin")
            .WithSummary("Public, for any origin: whether the platform accepts browsers from the caller's Origin for some school. The SDKs ask it when a request could not be made, to tell origin_not_allowed from a platform that cannot be reached.");
        var group = app.MapGroup("/v1/settings/origins").WithTags("Settings").RequireAuthorization(Policies.Admin);
        group.MapGet("/", List).WithName("ListAllowedOrigins").WithSummary("The browser origins the school's web apps run on.");
        group.MapPost("/", Add).WithName("AddAllowedOrigin")
            .WithSummary("Adds a browser origin (scheme://host[:port]); effective at once on every node. Adding one already listed changes nothing.");
        group.MapDelete("/", Remove).WithName("RemoveAllowedOrigin")
            .WithSummary("Removes a browser origin; requests from it are refused (origin_not_allowed) at once on every node.");
        return group;
    }

    private static async Task<Ok<OriginProbe>> Probe(HttpContext http, BrowserOrigins origins)
    {
        var origin = http.Request.Headers.Origin.ToString();
        return TypedResults.Ok(origin.Length == 0 ? new OriginProbe(null, true) : new OriginProbe(origin, await origins.IsKnownAsync(origin)));
    }

    private static async Task<Ok<AllowedOrigins>> List(HttpContext http, SettingsStore settings) =>
        TypedResults.Ok(new AllowedOrigins((await settings.GetAsync(http.User.RequiredCaller().TenantId)).AllowedOrigins));

    private static async Task<Results<Ok<AllowedOrigins>, ValidationProblem>> Add(AddOriginRequest request, HttpContext http, SettingsStore settings)
    {
        if (OriginRules.Normalize(request.Origin) is not { } origin)
        {
            return new FieldErrors().Add("origin", OriginRules.Hint).ToProblem();
        }
        var full = false;
        var (after, _) = await settings.ChangeAsync(http.User.RequiredCaller().TenantId, current =>
        {
            if (current.AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase))
            {
                return null;
            }
            full = current.AllowedOrigins.Count >= OriginRules.MaxPerTenant;
            return full ? null : current with { AllowedOrigins = [.. current.AllowedOrigins, origin] };
        });
        return full
            ? new FieldErrors().Add("origin", $"The school lists {OriginRules.MaxPerTenant} origins already, the most it may: remove one first.").ToProblem()
            : TypedResults.Ok(new AllowedOrigins(after.AllowedOrigins));
    }

    private static async Task<Results<Ok<AllowedOrigins>, ValidationProblem, ProblemHttpResult>> Remove(string? origin, HttpContext http, SettingsStore settings)
    {
        if (OriginRules.Normalize(origin) is not { } normalized)
        {
            return new FieldErrors().Add("origin", OriginRules.Hint).ToProblem();
        }
        var (after, changed) = await settings.ChangeAsync(http.User.RequiredCaller().TenantId, current =>
            current.AllowedOrigins.Contains(normalized, StringComparer.OrdinalIgnoreCase)
                ? current with { AllowedOrigins = current.AllowedOrigins.Where(o => !string.Equals(o, normalized, StringComparison.OrdinalIgnoreCase)).ToList() }
                : null);
        return changed
            ? TypedResults.Ok(new AllowedOrigins(after.AllowedOrigins))
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Origin not listed.", detail: $"The school does not list {normalized}.");
    }
}
