using System.Net;
using System.Net.Http.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Tenancy;

public sealed class TenantTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Operator_creates_a_tenant_whose_key_secret_is_shown_once()
    {
        var sdk = CallernApp.Sdk(app.Operator());
        var created = await sdk.CreateTenantAsync(new CreateTenantRequest { Name = "Riverside Academy" });

        Assert.Equal("Riverside Academy", created.Tenant.Name);
        Assert.StartsWith("ck_", created.ApiKey.KeyId);
        Assert.StartsWith("cs_", created.ApiKey.Secret);
        var fetched = await sdk.GetTenantAsync(created.Tenant.Id);
        Assert.Equal(created.Tenant.Id, fetched.Id);
        var keys = await sdk.ListApiKeysAsync(created.Tenant.Id);
        var key = Assert.Single(keys);
        Assert.Equal(created.ApiKey.KeyId, key.KeyId);
        var listed = await app.Operator().GetStringAsync($"/v1/tenants/{created.Tenant.Id}/api-keys");
        Assert.DoesNotContain(created.ApiKey.Secret, listed);
    }

    [Fact]
    public async Task Tenants_are_listed_with_cursor_pagination()
    {
        var names = Enumerable.Range(1, 5).Select(i => $"Paged School {i}").ToList();
        foreach (var name in names)
        {
            await app.CreateTenantAsync(name);
        }
        var sdk = CallernApp.Sdk(app.Operator());
        var seen = new List<Tenant>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await sdk.ListTenantsAsync(cursor, 2);
            Assert.True(page.Items.Count <= 2);
            seen.AddRange(page.Items);
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null);
        Assert.True(pages >= 3);
        Assert.Equal(seen.Count, seen.Select(t => t.Id).Distinct().Count());
        Assert.Subset(seen.Select(t => t.Name).ToHashSet(), names.ToHashSet());
    }

    [Fact]
    public async Task Tenant_endpoints_refuse_anyone_but_the_operator()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);

        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Anonymous().GetAsync("/v1/tenants")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.WithBearer("op_wrong").GetAsync("/v1/tenants")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.GetAsync("/v1/tenants")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.WithApiKey(tenant.KeyId, tenant.Secret).GetAsync("/v1/tenants")).StatusCode);
    }

    [Fact]
    public async Task Invalid_tenant_name_is_refused_with_a_field_error_and_nothing_is_created()
    {
        var before = (await CallernApp.Sdk(app.Operator()).ListTenantsAsync(null, 200)).Items.Count;
        var response = await app.Operator().PostAsJsonAsync("/v1/tenants", new { name = "  " });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<ValidationProblem>();
        Assert.Contains("name", problem!.Errors.Keys);
        Assert.Equal(before, (await CallernApp.Sdk(app.Operator()).ListTenantsAsync(null, 200)).Items.Count);
    }

    [Fact]
    public async Task Several_keys_work_at_once_and_a_revoked_key_stops_working()
    {
        var tenant = await app.CreateTenantAsync();
        var sdk = CallernApp.Sdk(app.Operator());
        var second = await sdk.CreateApiKeyAsync(tenant.Id);
        var oldToken = app.Token(tenant, "admin-1", CallernRoles.Admin);
        var newToken = new AccessTokenBuilder(second.KeyId, second.Secret).ForUser("admin-1", CallernRoles.Admin).Build();

        Assert.Equal(HttpStatusCode.OK, (await app.WithBearer(oldToken).GetAsync("/v1/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.WithBearer(newToken).GetAsync("/v1/me")).StatusCode);

        await sdk.RevokeApiKeyAsync(tenant.Id, tenant.KeyId);

        Assert.Equal(HttpStatusCode.Unauthorized, (await app.WithBearer(oldToken).GetAsync("/v1/me")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.WithApiKey(tenant.KeyId, tenant.Secret)
            .PostAsJsonAsync("/v1/tokens", new { userId = "u1", role = "student" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.WithBearer(newToken).GetAsync("/v1/me")).StatusCode);
        var keys = await sdk.ListApiKeysAsync(tenant.Id);
        Assert.NotNull(keys.Single(k => k.KeyId == tenant.KeyId).RevokedAt);
        Assert.Null(keys.Single(k => k.KeyId == second.KeyId).RevokedAt);
    }

    [Fact]
    public async Task Unknown_tenant_or_key_answers_404()
    {
        var sdk = CallernApp.Sdk(app.Operator());
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();

        Assert.Equal(HttpStatusCode.NotFound, (await app.Operator().GetAsync($"/v1/tenants/{Guid.NewGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Operator().DeleteAsync($"/v1/tenants/{other.Id}/api-keys/{tenant.KeyId}")).StatusCode);
        Assert.Null((await sdk.ListApiKeysAsync(tenant.Id)).Single().RevokedAt);
    }

    private sealed record ValidationProblem(int Status, Dictionary<string, string[]> Errors);
}
