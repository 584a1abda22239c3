using Callern.Platform.Tenancy;
using Microsoft.Extensions.Options;

namespace Callern.Platform.Turn;

/// <summary>ICE servers with a fresh TURN credential for one user: for GET /v1/ice-servers and for calls on accept.</summary>
public sealed class IceServerIssuer(IOptions<TurnOptions> options, SettingsStore settings, TimeProvider time)
{
    public bool IsConfigured => options.Value.IsConfigured;

    /// <summary>The servers for the user, or an empty list when the platform has no TURN configured.</summary>
    public async Task<IceServersResponse> IssueAsync(Caller caller)
    {
        var turn = options.Value;
        var ttl = (await settings.GetAsync(caller.TenantId)).TurnCredentialTtlSeconds ?? TurnCredentials.DefaultTtlSeconds;
        if (!turn.IsConfigured)
        {
            return new IceServersResponse([], ttl, time.GetUtcNow().AddSeconds(ttl));
        }
        var credential = TurnCredentials.Issue(turn.Secrets[0], caller.GlobalId, time.GetUtcNow(), ttl);
        return new IceServersResponse([new IceServer(turn.Urls, credential.Username, credential.Password)], ttl, credential.ExpiresAt);
    }
}
