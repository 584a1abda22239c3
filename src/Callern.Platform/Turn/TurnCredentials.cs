using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Callern.Platform.Turn;

/// <summary>A TURN REST credential (coturn's <c>use-auth-secret</c>) and when it stops working.</summary>
public sealed record TurnCredential(string Username, string Password, DateTimeOffset ExpiresAt);

/// <summary>
/// coturn's TURN REST scheme: username <c>"&lt;expiry unix seconds&gt;:&lt;opaque id&gt;"</c>, password
/// <c>base64(HMAC-SHA1(secret, username))</c>. coturn recomputes the password from the username
/// with each of its <c>static-auth-secret</c>s and refuses an allocation once the expiry has
/// passed, so the platform and coturn share nothing but the secret. Pure functions: no clock,
/// no configuration.
/// </summary>
public static class TurnCredentials
{
    public const int DefaultTtlSeconds = 3600;
    /// <summary>Shorter would expire during the ICE gathering of a slow client.</summary>
    public const int MinTtlSeconds = 5 * 60;
    /// <summary>Longer would make a leaked credential a free relay for days.</summary>
    public const int MaxTtlSeconds = 24 * 60 * 60;

    /// <summary>
    /// The opaque id: the first 96 bits of HMAC-SHA256(secret, global user id), base64url. Stable for
    /// one user and secret (coturn's logs and quotas can be correlated), but it names neither the
    /// tenant nor the user, and nobody without the secret can link it back to them.
    /// </summary>
    public static string OpaqueId(string secret, string globalUserId)
    {
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes("callern-turn-user:" + globalUserId));
        return Convert.ToBase64String(mac, 0, 12).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static TurnCredential Issue(string secret, string globalUserId, DateTimeOffset now, int ttlSeconds)
    {
        // Whole seconds, as coturn reads them; an expiry in milliseconds would be refused.
        var expiry = now.ToUnixTimeSeconds() + ttlSeconds;
        var username = expiry.ToString(CultureInfo.InvariantCulture) + ":" + OpaqueId(secret, globalUserId);
        return new TurnCredential(username, Password(secret, username), DateTimeOffset.FromUnixTimeSeconds(expiry));
    }

    public static string Password(string secret, string username) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));
}
