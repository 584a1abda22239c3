using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Callern.Platform.Tests.Tenancy;

public sealed class AccessTokenTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Token_from_the_api_key_reads_me()
    {
        var tenant = await app.CreateTenantAsync();
        var issued = await CallernApp.Sdk(app.WithApiKey(tenant.KeyId, tenant.Secret))
            .IssueAccessTokenAsync(new TokenRequest { UserId = "student-7", Role = CallernRoles.Student, Name = "Mia", TtlSeconds = 600 });

        var me = await CallernApp.Sdk(app.WithBearer(issued.AccessToken)).GetMeAsync();

        Assert.Equal("student-7", me.UserId);
        Assert.Equal("Mia", me.Name);
        Assert.Equal(tenant.Id, me.TenantId);
        Assert.InRange(issued.ExpiresAt - app.Clock.GetUtcNow(), TimeSpan.FromSeconds(595), TimeSpan.FromSeconds(601));
    }

    [Fact]
    public async Task Token_signed_locally_with_the_sdk_builder_reads_me_the_same_way()
    {
        var tenant = await app.CreateTenantAsync();
        var token = new AccessTokenBuilder(tenant.KeyId, tenant.Secret).ForUser("teacher-3", CallernRoles.Teacher, "Emma").Build();

        var me = await CallernApp.Sdk(app.WithBearer(token)).GetMeAsync();

        Assert.Equal(("teacher-3", "teacher", "Emma"), (me.UserId, me.Role, me.Name));
    }

    [Fact]
    public async Task Token_request_with_bad_fields_is_refused_with_field_errors()
    {
        var tenant = await app.CreateTenantAsync();
        var response = await app.WithApiKey(tenant.KeyId, tenant.Secret)
            .PostAsJsonAsync("/v1/tokens", new { userId = "", role = "wizard", ttlSeconds = 10 * 86400 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("userId", out _));
        Assert.True(errors.TryGetProperty("role", out _));
        Assert.True(errors.TryGetProperty("ttlSeconds", out _));
    }

    [Fact]
    public async Task Wrong_secret_unknown_key_and_malformed_basic_are_401()
    {
        var tenant = await app.CreateTenantAsync();
        var body = new { userId = "u1", role = "student" };

        Assert.Equal(HttpStatusCode.Unauthorized, (await app.WithApiKey(tenant.KeyId, "cs_wrong").PostAsJsonAsync("/v1/tokens", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.WithApiKey("ck_unknown", tenant.Secret).PostAsJsonAsync("/v1/tokens", body)).StatusCode);
        var malformed = app.Anonymous();
        malformed.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Basic !!!not-base64");
        Assert.Equal(HttpStatusCode.Unauthorized, (await malformed.PostAsJsonAsync("/v1/tokens", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Anonymous().PostAsJsonAsync("/v1/tokens", body)).StatusCode);
    }

    public static TheoryData<string> BadTokens => new()
    {
        "forged-signature", "alg-none", "expired", "unknown-kid", "longer-than-24h", "unknown-role", "no-sub", "garbage",
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Bad_tokens_are_401(string kind)
    {
        var tenant = await app.CreateTenantAsync();
        var now = DateTime.UtcNow;
        var token = kind switch
        {
            "forged-signature" => Sign(tenant.KeyId, "cs_" + new string('f', 43), Claims("u1", "admin"), now, now.AddHours(1)),
            "alg-none" => Unsigned(tenant.KeyId, Claims("u1", "admin"), now.AddHours(1)),
            "expired" => Sign(tenant.KeyId, tenant.Secret, Claims("u1", "admin"), now.AddHours(-2), now.AddHours(-1)),
            "unknown-kid" => Sign("ck_nobody", tenant.Secret, Claims("u1", "admin"), now, now.AddHours(1)),
            "longer-than-24h" => Sign(tenant.KeyId, tenant.Secret, Claims("u1", "admin"), now, now.AddHours(30)),
            "unknown-role" => Sign(tenant.KeyId, tenant.Secret, Claims("u1", "operator"), now, now.AddHours(1)),
            "no-sub" => Sign(tenant.KeyId, tenant.Secret, new Dictionary<string, object> { ["role"] = "admin" }, now, now.AddHours(1)),
            _ => "a.b.c",
        };

        var response = await app.WithBearer(token).GetAsync("/v1/me");

        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{kind}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_tenant_claim_inside_the_token_cannot_move_it_to_another_tenant()
    {
        var mine = await app.CreateTenantAsync();
        var theirs = await app.CreateTenantAsync();
        var claims = Claims("admin-1", "admin");
        claims["callern_tenant"] = theirs.Id.ToString();
        var token = Sign(mine.KeyId, mine.Secret, claims, DateTime.UtcNow, DateTime.UtcNow.AddHours(1));

        var me = await CallernApp.Sdk(app.WithBearer(token)).GetMeAsync();

        Assert.Equal(mine.Id, me.TenantId);
    }

    private static Dictionary<string, object> Claims(string sub, string role) => new() { ["sub"] = sub, ["role"] = role, ["name"] = sub };

    private static string Sign(string kid, string secret, Dictionary<string, object> claims, DateTime issuedAt, DateTime expires) =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)) { KeyId = kid }, SecurityAlgorithms.HmacSha256),
            Claims = claims,
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = expires,
        });

    private static string Unsigned(string kid, Dictionary<string, object> claims, DateTime expires)
    {
        static string Encode(object value) => Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(value));
        var payload = new Dictionary<string, object>(claims) { ["exp"] = new DateTimeOffset(expires).ToUnixTimeSeconds() };
        return $"{Encode(new { alg = "none", typ = "JWT", kid })}.{Encode(payload)}.";
    }
}
