using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Tenancy;

public sealed class SettingsTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task A_new_tenant_reads_defaults_and_an_admin_replaces_them()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        var defaults = await admin.GetSettingsAsync();
        var changed = await admin.GetSettingsAsync();
        changed.AllowedOrigins = ["https://school.example", "http://localhost:5173"];
        changed.DefaultTokenTtlSeconds = 900;
        await admin.UpdateSettingsAsync(changed);
        var issued = await CallernApp.Sdk(app.WithApiKey(tenant.KeyId, tenant.Secret))
            .IssueAccessTokenAsync(new TokenRequest { UserId = "s1", Role = CallernRoles.Student });

        Assert.Empty(defaults.AllowedOrigins);
        Assert.Equal(3600, defaults.DefaultTokenTtlSeconds);
        Assert.Equal(["https://school.example", "http://localhost:5173"], (await admin.GetSettingsAsync()).AllowedOrigins);
        Assert.InRange(issued.ExpiresAt - app.Clock.GetUtcNow(), TimeSpan.FromSeconds(899), TimeSpan.FromSeconds(901));
    }

    [Fact]
    public async Task Invalid_settings_are_refused_field_by_field_and_nothing_changes()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);

        var response = await admin.PutAsJsonAsync("/v1/settings", new { allowedOrigins = new[] { "https://ok.example", "ftp://x", "https://a.example/path" }, defaultTokenTtlSeconds = 5 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["allowedOrigins[1]", "allowedOrigins[2]", "defaultTokenTtlSeconds"], errors.EnumerateObject().Select(e => e.Name).Order());
        Assert.Empty((await CallernApp.Sdk(admin).GetSettingsAsync()).AllowedOrigins);
    }

    [Fact]
    public async Task Only_admins_read_or_change_settings()
    {
        var tenant = await app.CreateTenantAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await app.As(tenant, "s1", CallernRoles.Student).GetAsync("/v1/settings")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.As(tenant, "t1", CallernRoles.Teacher).PutAsJsonAsync("/v1/settings", new { })).StatusCode);
    }
}
