using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Callern.Platform.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Callern.Platform.Tenancy;

public sealed class TenancyOptions
{
    /// <summary>The platform operator key (Bearer) that manages tenants. Empty disables operator access.</summary>
    public string OperatorKey { get; set; } = "";
}

public static class Policies
{
    public const string Operator = "operator";
    public const string ApiKey = "api-key";
    /// <summary>Any signed-in user of a tenant.</summary>
    public const string TenantUser = "tenant-user";
    public const string Admin = "admin";
    public const string AdminOrService = "admin-or-service";
    public const string Student = "student";
    public const string Teacher = "teacher";
    /// <summary>A student or a teacher: someone who takes part in calls.</summary>
    public const string Participant = "participant";
}

/// <summary>
/// Three ways in: the operator key (Bearer, not a JWT), an API key (HTTP Basic keyId:secret, only
/// for minting tokens) and access tokens (JWT HS256, kid = keyId, validated by key lookup).
/// The tenant always comes from the signing key, never from a claim inside the token.
/// </summary>
public static class Authentication
{
    private const string Selector = "callern";
    private const string OperatorScheme = "operator";
    private const string ApiKeyScheme = "api-key";
    public static readonly TimeSpan MaxTokenLifetime = TimeSpan.FromHours(24);

    public static IServiceCollection AddCallernAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<TenancyOptions>(configuration.GetSection("Callern"));
        services.AddMemoryCache();
        services.AddHttpContextAccessor();
        services.AddSingleton<ApiKeyStore>().AddNoticeHandler<ApiKeyStore>();
        services.AddAuthentication(Selector)
            .AddPolicyScheme(Selector, null, o => o.ForwardDefaultSelector = SelectScheme)
            .AddScheme<AuthenticationSchemeOptions, OperatorHandler>(OperatorScheme, null)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyScheme, null)
            .AddJwtBearer(JwtBearerDefaults.AuthenticationScheme, o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateIssuer = false,
                    ValidateAudience = false,
                    ValidateLifetime = true,
                    RequireExpirationTime = true,
                    RequireSignedTokens = true,
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    ClockSkew = TimeSpan.FromSeconds(30),
                    NameClaimType = CallernClaims.Name,
                    RoleClaimType = CallernClaims.Role,
                };
                o.Events = new JwtBearerEvents { OnMessageReceived = LoadSigningKey, OnTokenValidated = CheckToken };
            });
        services.AddSingleton<IPostConfigureOptions<JwtBearerOptions>, ResolveKeysFromStore>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Operator, p => p.AddAuthenticationSchemes(OperatorScheme).RequireClaim(CallernClaims.Role, Roles.Operator))
            .AddPolicy(Policies.ApiKey, p => p.AddAuthenticationSchemes(ApiKeyScheme).RequireClaim(CallernClaims.Role, Roles.ApiKey))
            .AddPolicy(Policies.TenantUser, p => TenantToken(p).RequireClaim(CallernClaims.Role, Roles.TokenRoles))
            .AddPolicy(Policies.Admin, p => TenantToken(p).RequireClaim(CallernClaims.Role, Roles.Admin))
            .AddPolicy(Policies.AdminOrService, p => TenantToken(p).RequireClaim(CallernClaims.Role, Roles.Admin, Roles.Service))
            .AddPolicy(Policies.Student, p => TenantToken(p).RequireClaim(CallernClaims.Role, Roles.Student))
            .AddPolicy(Policies.Teacher, p => TenantToken(p).RequireClaim(CallernClaims.Role, Roles.Teacher))
            .AddPolicy(Policies.Participant, p => TenantToken(p).RequireClaim(CallernClaims.Role, Roles.Student, Roles.Teacher));
        return services;
    }

    private static Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder TenantToken(
        Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder policy) =>
        policy.AddAuthenticationSchemes(JwtBearerDefaults.AuthenticationScheme).RequireClaim(CallernClaims.TenantId);

    private static string SelectScheme(HttpContext context)
    {
        string authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return ApiKeyScheme;
        }
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Count(c => c == '.') != 2)
        {
            return OperatorScheme;
        }
        return JwtBearerDefaults.AuthenticationScheme;
    }

    /// <summary>Browsers cannot set headers on WebSockets: hubs take the token from the query string.</summary>
    private static async Task LoadSigningKey(MessageReceivedContext context)
    {
        if (string.IsNullOrEmpty(context.Token) && context.HttpContext.Request.Path.StartsWithSegments("/hubs"))
        {
            context.Token = context.Request.Query["access_token"];
        }
        var token = context.Token;
        if (string.IsNullOrEmpty(token))
        {
            var header = context.Request.Headers.Authorization.ToString();
            token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
        }
        if (string.IsNullOrEmpty(token))
        {
            return;
        }
        try
        {
            var kid = new JsonWebToken(token).Kid;
            if (!string.IsNullOrEmpty(kid))
            {
                // Read here, where the database can be awaited, and kept with the request for the
                // synchronous key resolver and CheckToken below. (They read the cache before: an entry
                // that expired between here and there failed a valid token with 401 under load.)
                context.HttpContext.Items[typeof(SigningKey)] =
                    await context.HttpContext.RequestServices.GetRequiredService<ApiKeyStore>().FindActiveAsync(kid);
            }
        }
        catch (SecurityTokenMalformedException)
        {
            context.Fail("Malformed token.");
        }
        catch (ArgumentException)
        {
            context.Fail("Malformed token.");
        }
    }

    private static Task CheckToken(TokenValidatedContext context)
    {
        var principal = context.Principal!;
        var jwt = (JsonWebToken)context.SecurityToken;
        var key = KeyOf(context.HttpContext, jwt.Kid);
        var role = principal.FindFirstValue(CallernClaims.Role);
        var issuedAt = jwt.IssuedAt == DateTime.MinValue ? DateTime.UtcNow : jwt.IssuedAt;
        if (key is null)
        {
            context.Fail("Unknown or revoked key.");
        }
        else if (string.IsNullOrWhiteSpace(principal.FindFirstValue(CallernClaims.Subject)))
        {
            context.Fail("Token has no sub.");
        }
        else if (role is null || !Roles.TokenRoles.Contains(role))
        {
            context.Fail("Token has no valid role.");
        }
        else if (jwt.ValidTo - issuedAt > MaxTokenLifetime || jwt.ValidTo - DateTime.UtcNow > MaxTokenLifetime)
        {
            context.Fail("Token lifetime exceeds 24 hours.");
        }
        else
        {
            var identity = new ClaimsIdentity(
                principal.Claims.Where(c => c.Type is not (CallernClaims.TenantId or CallernClaims.KeyId))
                    .Append(new Claim(CallernClaims.TenantId, key.TenantId.ToString()))
                    .Append(new Claim(CallernClaims.KeyId, key.KeyId)),
                JwtBearerDefaults.AuthenticationScheme, CallernClaims.Name, CallernClaims.Role);
            context.Principal = new ClaimsPrincipal(identity);
        }
        return Task.CompletedTask;
    }

    /// <summary>The key <see cref="LoadSigningKey"/> read for this request's token.</summary>
    private static SigningKey? KeyOf(HttpContext? http, string kid) =>
        http?.Items[typeof(SigningKey)] is SigningKey key && key.KeyId == kid ? key : null;

    private sealed class ResolveKeysFromStore(IHttpContextAccessor http) : IPostConfigureOptions<JwtBearerOptions>
    {
        public void PostConfigure(string? name, JwtBearerOptions options) =>
            options.TokenValidationParameters.IssuerSigningKeyResolver = (_, _, kid, _) =>
                KeyOf(http.HttpContext, kid) is { } key ? [new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key.Secret)) { KeyId = kid }] : [];
    }

    private sealed class OperatorHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptionsMonitor<TenancyOptions> tenancy)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var header = Request.Headers.Authorization.ToString();
            var expected = tenancy.CurrentValue.OperatorKey;
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || expected.Length == 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
            if (!FixedTimeEquals(header[7..].Trim(), expected))
            {
                return Task.FromResult(AuthenticateResult.Fail("Invalid operator key."));
            }
            var identity = new ClaimsIdentity([new Claim(CallernClaims.Role, Roles.Operator), new Claim(CallernClaims.Name, "operator")], Scheme.Name);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
        }
    }

    private sealed class ApiKeyHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var header = Request.Headers.Authorization.ToString();
            if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            {
                return AuthenticateResult.NoResult();
            }
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            }
            catch (FormatException)
            {
                return AuthenticateResult.Fail("Malformed Basic credentials.");
            }
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            var key = colon > 0 ? await keys.FindActiveAsync(decoded[..colon]) : null;
            if (key is null || !FixedTimeEquals(decoded[(colon + 1)..], key.Secret))
            {
                return AuthenticateResult.Fail("Unknown, revoked or wrong API key.");
            }
            var identity = new ClaimsIdentity(
            [
                new Claim(CallernClaims.TenantId, key.TenantId.ToString()),
                new Claim(CallernClaims.KeyId, key.KeyId),
                new Claim(CallernClaims.Subject, "api-key:" + key.KeyId),
                new Claim(CallernClaims.Role, Roles.ApiKey),
            ], Scheme.Name);
            return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
        }
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}
