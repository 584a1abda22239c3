using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Infrastructure;

public sealed class ApiConventionTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Malformed_json_is_a_400_problem_with_a_field_error_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);

        var response = await admin.PutAsync("/v1/students/s-1", new StringContent("{\"displayName\": \"Ana\", ", Encoding.UTF8, "application/json"));
        var wrongType = await admin.PutAsync("/v1/students/s-1", new StringContent("{\"displayName\": 42}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.NotEmpty(problem.GetProperty("errors").EnumerateObject());
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
        Assert.True((await wrongType.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("$.displayName", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/v1/students/s-1")).StatusCode);
    }

    [Fact]
    public async Task Oversized_body_is_413_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);
        var huge = JsonSerializer.Serialize(new { displayName = new string('x', 2 * 1024 * 1024), timeZone = "UTC" });

        var response = await admin.PutAsync("/v1/students/s-1", new StringContent(huge, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/v1/students/s-1")).StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_and_unauthenticated_calls_answer_problem_details()
    {
        var missing = await app.Anonymous().GetAsync("/v1/nothing-here");
        var anonymous = await app.Anonymous().GetAsync("/v1/me");

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Health_endpoints_and_swagger_ui_are_served()
    {
        var client = app.Anonymous();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        Assert.Equal("Healthy", await client.GetStringAsync("/health/ready"));
        Assert.Contains("swagger", await client.GetStringAsync("/docs/index.html"), StringComparison.OrdinalIgnoreCase);
        var document = await client.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");
        Assert.StartsWith("3.0", document.GetProperty("openapi").GetString());
    }

    [Fact]
    public async Task Logs_never_contain_secrets_tokens_or_access_token_query_values()
    {
        var tenant = await app.CreateTenantAsync();
        var token = app.Token(tenant, "admin-1", CallernRoles.Admin);
        await app.WithBearer(token).GetAsync("/v1/me");
        await app.Anonymous().GetAsync($"/hubs/calls?access_token={token}");
        await app.WithApiKey(tenant.KeyId, tenant.Secret).PostAsJsonAsync("/v1/tokens", new { userId = "u", role = "student" });
        await app.WithBearer(token + "tampered").GetAsync("/v1/me");

        var logs = app.Logs.GetSnapshot();
        Assert.NotEmpty(logs);
        foreach (var record in logs)
        {
            var text = record.Message + " " + string.Join(" ", record.StructuredState?.Select(p => p.Value) ?? []) + " " + record.Exception;
            Assert.DoesNotContain(tenant.Secret, text);
            Assert.DoesNotContain(token.Split('.')[2], text);
            Assert.DoesNotContain(app.OperatorKey, text);
        }
    }
}

public sealed class RateLimitedApp : CallernApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Callern:Limits:PermitsPerUser"] = "5",
        ["Callern:Limits:PermitsPerTenant"] = "8",
        ["Callern:Limits:WindowSeconds"] = "60",
    };
}

public sealed class RateLimitTests(RateLimitedApp app) : IClassFixture<RateLimitedApp>
{
    [Fact]
    public async Task A_burst_from_one_user_gets_429_with_retry_after_and_the_tenant_limit_caps_all_users()
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();
        var first = app.As(tenant, "student-1", CallernRoles.Student);
        var second = app.As(tenant, "student-2", CallernRoles.Student);

        var burst = new List<HttpResponseMessage>();
        for (var i = 0; i < 7; i++)
        {
            burst.Add(await first.GetAsync("/v1/me"));
        }
        var secondUser = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            secondUser.Add((await second.GetAsync("/v1/me")).StatusCode);
        }
        var otherTenant = await app.As(other, "student-1", CallernRoles.Student).GetAsync("/v1/me");

        Assert.Equal(5, burst.Count(r => r.StatusCode == HttpStatusCode.OK));
        var limited = burst.Last();
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        // The tenant allows 8 in all: the second user gets the 3 that are left.
        Assert.Equal(3, secondUser.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.OK, otherTenant.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Anonymous().GetAsync("/health/ready")).StatusCode);
    }
}
