using System.Security.Claims;

namespace Callern.Platform.Tenancy;

public static class Roles
{
    public const string Student = "student";
    public const string Teacher = "teacher";
    public const string Admin = "admin";
    public const string Service = "service";
    /// <summary>Held by the platform operator key only; never inside an access token.</summary>
    public const string Operator = "operator";
    /// <summary>Held by a request authenticated with an API key (HTTP Basic), only for POST /v1/tokens.</summary>
    public const string ApiKey = "api-key";

    public static readonly string[] TokenRoles = [Student, Teacher, Admin, Service];
}

public static class CallernClaims
{
    /// <summary>Set by the platform from the signing key, never read from the token itself.</summary>
    public const string TenantId = "callern_tenant";
    public const string KeyId = "callern_key";
    public const string Subject = "sub";
    public const string Role = "role";
    public const string Name = "name";
}

/// <summary>The authenticated user of a tenant: who calls, for which school, in which role.</summary>
public sealed record Caller(Guid TenantId, string UserId, string Role, string Name)
{
    /// <summary>Identity unique across tenants: two schools' users with the same id never collide.</summary>
    public string GlobalId => $"{TenantId:N}:{UserId}";
}

public static class CallerExtensions
{
    public static Caller? Caller(this ClaimsPrincipal principal)
    {
        var tenant = principal.FindFirstValue(CallernClaims.TenantId);
        var subject = principal.FindFirstValue(CallernClaims.Subject);
        if (tenant is null || subject is null || !Guid.TryParse(tenant, out var tenantId))
        {
            return null;
        }
        return new Caller(
            tenantId,
            subject,
            principal.FindFirstValue(CallernClaims.Role) ?? "",
            principal.FindFirstValue(CallernClaims.Name) ?? subject);
    }

    /// <summary>For endpoints behind a tenant policy, where authentication guarantees a caller.</summary>
    public static Caller RequiredCaller(this ClaimsPrincipal principal) =>
        principal.Caller() ?? throw new InvalidOperationException("Endpoint is missing its tenant authorization policy.");
}
