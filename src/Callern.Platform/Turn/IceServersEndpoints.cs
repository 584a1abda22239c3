using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Callern.Platform.Turn;

/// <summary>One entry of RTCConfiguration.iceServers, exactly as a browser's RTCPeerConnection takes it.</summary>
public sealed record IceServer(IReadOnlyList<string> Urls, string Username, string Credential);

/// <summary>ICE servers with one fresh TURN credential; <c>ttl</c> in seconds, then ask again (e.g. for an ICE restart).</summary>
public sealed record IceServersResponse(IReadOnlyList<IceServer> IceServers, int Ttl, DateTimeOffset ExpiresAt);

public static class IceServersEndpoints
{
    public static IServiceCollection AddTurn(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TurnOptions>().Bind(configuration.GetSection("Callern:Turn"))
            .Validate(o => !o.Problems().Any(), "Callern:Turn is invalid: see docs/turn.md.")
            .ValidateOnStart();
        services.AddSingleton<IceServerIssuer>();
        return services;
    }

    public static IEndpointRouteBuilder MapTurn(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/ice-servers").WithTags("Turn").RequireAuthorization(Policies.TenantUser);
        group.MapGet("/", GetIceServers).WithName("GetIceServers")
            .WithSummary("ICE servers (STUN/TURN URLs) with a time-limited TURN credential for the caller.");
        return app;
    }

    private static async Task<Results<Ok<IceServersResponse>, ProblemHttpResult>> GetIceServers(HttpContext http, IceServerIssuer issuer)
    {
        if (!issuer.IsConfigured)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "TURN is not configured on this platform.", detail: "Set Callern:Turn:Secrets and Callern:Turn:Urls.");
        }
        return TypedResults.Ok(await issuer.IssueAsync(http.User.RequiredCaller()));
    }
}
