using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.Time.Testing;

namespace Callern.Platform.Tests.Signaling;

public sealed class HubAuthenticationTests(CallernApp app) : IClassFixture<CallernApp>
{
    private static async Task<Exception> RefusedAsync(Task connecting) => await Assert.ThrowsAnyAsync<Exception>(() => connecting);

    [Fact]
    public async Task Hub_refuses_missing_expired_forged_and_revoked_key_tokens()
    {
        var tenant = await app.CreateTenantAsync();
        var expired = new AccessTokenBuilder(tenant.KeyId, tenant.Secret, new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-2)))
            .ForUser("student-1", CallernRoles.Student).ValidFor(TimeSpan.FromHours(1)).Build();
        var forged = new AccessTokenBuilder(tenant.KeyId, "cs_not-the-secret-of-this-key-but-long-enough-for-hs256").ForUser("student-1", CallernRoles.Student).Build();
        var revokedTenant = await app.CreateTenantAsync("Revoked School");
        var revokedToken = app.Token(revokedTenant, "student-1", CallernRoles.Student);
        await CallernApp.Sdk(app.Operator()).RevokeApiKeyAsync(revokedTenant.Id, revokedTenant.KeyId);

        foreach (var (name, token) in new[] { ("missing", null), ("expired", expired), ("forged", forged), ("revoked key", revokedToken) })
        {
            var error = await RefusedAsync(HubClient.ConnectAsync(app, token));
            Assert.True(error.Message.Contains("401", StringComparison.Ordinal), $"{name}: {error.Message}");
        }
        await using var valid = await HubClient.ConnectAsync(app, tenant, "student-1", CallernRoles.Student);
        Assert.Equal(HubConnectionState.Connected, valid.Connection.State);
    }

    [Fact]
    public async Task Browsers_pass_the_token_in_the_access_token_query()
    {
        var tenant = await app.CreateTenantAsync();

        await using var browser = await HubClient.ConnectAsync(app, app.Token(tenant, "teacher-1", CallernRoles.Teacher), tokenInQuery: true);

        Assert.Equal(PresenceStatus.Available, (await browser.SetAvailabilityAsync("available")).Status);
    }

    [Fact]
    public async Task The_server_closes_a_connection_when_its_token_expires()
    {
        var tenant = await app.CreateTenantAsync();
        // The real clock: SignalR checks the expiry against it, not against the app's TimeProvider.
        var shortLived = new AccessTokenBuilder(tenant.KeyId, tenant.Secret).ForUser("student-1", CallernRoles.Student)
            .ValidFor(TimeSpan.FromSeconds(2)).Build();

        await using var client = await HubClient.ConnectAsync(app, shortLived);
        var closed = await client.Closed.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(HubConnectionState.Disconnected, client.Connection.State);
        Assert.Null(closed);
    }

    [Fact]
    public async Task A_browser_origin_outside_the_tenants_allowed_origins_is_refused()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var token = app.Token(tenant, "student-1", CallernRoles.Student);
        var beforeAnyList = await RefusedAsync(HubClient.ConnectAsync(app, token, origin: "https://anywhere.example"));
        var settings = await admin.GetSettingsAsync();
        settings.AllowedOrigins = ["https://school.example"];
        await admin.UpdateSettingsAsync(settings);

        var refused = await RefusedAsync(HubClient.ConnectAsync(app, token, origin: "https://evil.example"));
        await using var allowed = await HubClient.ConnectAsync(app, token, origin: "https://school.example");
        await using var noBrowser = await HubClient.ConnectAsync(app, token);

        Assert.Contains("403", beforeAnyList.Message, StringComparison.Ordinal);
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);
        Assert.Equal(HubConnectionState.Connected, allowed.Connection.State);
        Assert.Equal(HubConnectionState.Connected, noBrowser.Connection.State);
    }
}
