using System.Security.Claims;
using System.Text;
using Callern.Platform.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Callern.Platform.Tenancy;

public sealed record TokenRequest(string? UserId, string? Role, string? Name, int? TtlSeconds);

public sealed record TokenResponse(string AccessToken, DateTimeOffset ExpiresAt);

/// <summary>POST /v1/tokens: a school's backend trades its API key (HTTP Basic) for a user's access token.</summary>
public static class AccessTokens
{
    public const int DefaultTtlSeconds = 3600;
    public const int MinTtlSeconds = 60;
    public const int MaxTtlSeconds = 24 * 3600;

    public static RouteGroupBuilder MapAccessTokens(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/tokens").WithTags("Tokens").RequireAuthorization(Policies.ApiKey);
        group.MapPost("/", Issue).WithName("IssueAccessToken")
            .WithSummary("Issues an access token for one of the school's users; authenticate with the API key as HTTP Basic (keyId:secret).");
        return group;
    }

    private static async Task<Results<Ok<TokenResponse>, ValidationProblem>> Issue(
        TokenRequest request, ClaimsPrincipal user, ApiKeyStore keys, SettingsStore settings, TimeProvider time)
    {
        var errors = new FieldErrors()
            .Required(request.UserId, "userId", People.ProfileRules.MaxIdLength)
            .Check(request.Role is not null && Roles.TokenRoles.Contains(request.Role), "role", "One of: " + string.Join(", ", Roles.TokenRoles) + ".")
            .Optional(request.Name, "name", 200)
            .Check(request.TtlSeconds is null or (>= MinTtlSeconds and <= MaxTtlSeconds), "ttlSeconds", $"Between {MinTtlSeconds} and {MaxTtlSeconds}.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var key = await keys.FindActiveAsync(user.FindFirstValue(CallernClaims.KeyId)!);
        var ttl = request.TtlSeconds ?? (await settings.GetAsync(key!.TenantId)).DefaultTokenTtlSeconds;
        var expiresAt = time.GetUtcNow().AddSeconds(ttl);
        var token = Sign(key!, request.UserId!, request.Role!, request.Name ?? request.UserId!, time.GetUtcNow(), expiresAt);
        return TypedResults.Ok(new TokenResponse(token, DateTimeOffset.FromUnixTimeSeconds(expiresAt.ToUnixTimeSeconds())));
    }

    public static string Sign(SigningKey key, string userId, string role, string name, DateTimeOffset now, DateTimeOffset expiresAt) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key.Secret)) { KeyId = key.KeyId }, SecurityAlgorithms.HmacSha256),
            Claims = new Dictionary<string, object>
            {
                [CallernClaims.Subject] = userId,
                [CallernClaims.Role] = role,
                [CallernClaims.Name] = name,
            },
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expiresAt.UtcDateTime,
        });
}
