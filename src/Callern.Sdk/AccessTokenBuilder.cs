using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Callern.Sdk;

/// <summary>The roles an access token can carry.</summary>
public static class CallernRoles
{
    /// <summary>A learner who buys minutes and places calls.</summary>
    public const string Student = "student";
    /// <summary>A tutor who receives calls.</summary>
    public const string Teacher = "teacher";
    /// <summary>A school administrator: people, packages, settings, reports.</summary>
    public const string Admin = "admin";
    /// <summary>The school's own backend acting on behalf of users.</summary>
    public const string Service = "service";
}

/// <summary>
/// Signs Callern access tokens locally on the school's server, with no round trip to the platform:
/// a JWT (HS256) whose <c>kid</c> is the API key id, signed with the API key secret. The platform
/// accepts it exactly as a token from <c>POST /v1/tokens</c>. Never ship the secret to a browser.
/// </summary>
/// <example>
/// <code>
/// var token = new AccessTokenBuilder(keyId, secret)
///     .ForUser("student-42", CallernRoles.Student, "Ana Souza")
///     .ValidFor(TimeSpan.FromHours(1))
///     .Build();
/// </code>
/// </example>
public sealed class AccessTokenBuilder
{
    /// <summary>The longest lifetime the platform accepts.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    private readonly string _keyId;
    private readonly string _secret;
    private readonly TimeProvider _time;
    private string? _userId;
    private string? _role;
    private string? _name;
    private TimeSpan _lifetime = TimeSpan.FromHours(1);

    /// <summary>Creates a builder for one API key.</summary>
    /// <param name="keyId">The API key id (<c>ck_…</c>), written into the token's <c>kid</c> header.</param>
    /// <param name="secret">The API key secret (<c>cs_…</c>); its UTF-8 bytes are the HMAC key.</param>
    /// <param name="time">The clock; defaults to the system clock.</param>
    public AccessTokenBuilder(string keyId, string secret, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(keyId);
        ArgumentException.ThrowIfNullOrWhiteSpace(secret);
        _keyId = keyId;
        _secret = secret;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Sets the school's own user id (<c>sub</c>), role and display name.</summary>
    public AccessTokenBuilder ForUser(string userId, string role, string? name = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userId);
        ArgumentException.ThrowIfNullOrWhiteSpace(role);
        _userId = userId;
        _role = role;
        _name = name;
        return this;
    }

    /// <summary>Sets how long the token is valid; at most <see cref="MaxLifetime"/>.</summary>
    public AccessTokenBuilder ValidFor(TimeSpan lifetime)
    {
        if (lifetime <= TimeSpan.Zero || lifetime > MaxLifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, "Between zero and 24 hours.");
        }
        _lifetime = lifetime;
        return this;
    }

    /// <summary>Signs the token.</summary>
    /// <returns>The compact JWT to send as <c>Authorization: Bearer …</c> or as the hub's <c>access_token</c>.</returns>
    public string Build()
    {
        if (_userId is null || _role is null)
        {
            throw new InvalidOperationException("Call ForUser before Build.");
        }
        var now = _time.GetUtcNow().UtcDateTime;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_secret)) { KeyId = _keyId }, SecurityAlgorithms.HmacSha256),
            Claims = new Dictionary<string, object> { ["sub"] = _userId, ["role"] = _role, ["name"] = _name ?? _userId },
            IssuedAt = now,
            NotBefore = now,
            Expires = now + _lifetime,
        });
    }
}
