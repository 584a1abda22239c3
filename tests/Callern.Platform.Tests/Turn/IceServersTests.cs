using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Turn;

/// <summary>The platform configured with ./test.sh's coturn: its URLs, and the secret that coturn checks.</summary>
public class TurnApp : CallernApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Callern:Turn:Secrets:0"] = Coturn.Secret,
        ["Callern:Turn:Urls:0"] = Coturn.Url,
        ["Callern:Turn:Urls:1"] = Coturn.Url.Replace("transport=udp", "transport=tcp", StringComparison.Ordinal),
    };
}

/// <summary>The same, with its fake clock two hours in the past: what it issues has already expired in real time.</summary>
public sealed class PastClockTurnApp : TurnApp
{
    protected override DateTimeOffset ClockStart => DateTimeOffset.UtcNow.AddHours(-2);
}

public sealed class IceServersTests(TurnApp app) : IClassFixture<TurnApp>
{
    [Fact]
    public async Task Ice_servers_credential_allocates_and_relays_through_coturn()
    {
        var tenant = await app.CreateTenantAsync();
        var student = app.SdkAs(tenant, "student-ana", CallernRoles.Student);

        var ice = await student.GetIceServersAsync();

        var server = Assert.Single(ice.IceServers);
        Assert.Equal([Coturn.Url, Coturn.Url.Replace("transport=udp", "transport=tcp", StringComparison.Ordinal)], server.Urls);
        Assert.Equal(3600, ice.Ttl);
        Assert.Equal(app.Clock.GetUtcNow().AddSeconds(3600).ToUnixTimeSeconds(), ice.ExpiresAt.ToUnixTimeSeconds());
        Assert.StartsWith(ice.ExpiresAt.ToUnixTimeSeconds() + ":", server.Username);
        Assert.DoesNotContain("student-ana", server.Username);
        Assert.DoesNotContain(tenant.Id.ToString("N")[..8], server.Username);
        var relayed = await Coturn.RelayAsync(server.Urls[0], server.Username, server.Credential);
        Assert.True(relayed.ExitCode == 0, $"turnutils_uclient exited {relayed.ExitCode}:\n{relayed.Output}");
        Assert.Contains("tot_recv_msgs=10", relayed.Output);
    }

    [Fact]
    public async Task A_changed_password_is_refused_by_coturn()
    {
        var tenant = await app.CreateTenantAsync();
        var ice = await app.SdkAs(tenant, "teacher-bo", CallernRoles.Teacher).GetIceServersAsync();
        var server = ice.IceServers.Single();
        var tampered = (server.Credential[0] == 'A' ? "B" : "A") + server.Credential[1..];

        var relayed = await Coturn.RelayAsync(server.Urls[0], server.Username, tampered);

        Assert.NotEqual(0, relayed.ExitCode);
        Assert.Contains("Cannot complete Allocation", relayed.Output);
    }

    [Fact]
    public async Task Ttl_follows_the_tenant_setting_and_out_of_bounds_is_a_400_field_error()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);

        var tooShort = await admin.PutAsJsonAsync("/v1/settings", new { turnCredentialTtlSeconds = 299 });
        var tooLong = await admin.PutAsJsonAsync("/v1/settings", new { turnCredentialTtlSeconds = 86401 });
        var settings = await CallernApp.Sdk(admin).GetSettingsAsync();
        settings.TurnCredentialTtlSeconds = 300;
        await CallernApp.Sdk(admin).UpdateSettingsAsync(settings);
        var ice = await app.SdkAs(tenant, "student-1", CallernRoles.Student).GetIceServersAsync();

        foreach (var response in new[] { tooShort, tooLong })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Equal(["turnCredentialTtlSeconds"], errors.EnumerateObject().Select(e => e.Name));
        }
        Assert.Equal(300, ice.Ttl);
        Assert.Equal(app.Clock.GetUtcNow().AddSeconds(300).ToUnixTimeSeconds(), ice.ExpiresAt.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Ice_servers_need_a_signed_in_user()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Anonymous().GetAsync("/v1/ice-servers")).StatusCode);
        var tenant = await app.CreateTenantAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.WithApiKey(tenant.KeyId, tenant.Secret).GetAsync("/v1/ice-servers")).StatusCode);
    }
}

public sealed class ExpiredTurnCredentialTests(PastClockTurnApp app) : IClassFixture<PastClockTurnApp>
{
    [Fact]
    public async Task A_credential_issued_an_hour_before_its_expiry_passed_is_refused_by_coturn()
    {
        var tenant = await app.CreateTenantAsync();
        // Signed with the real clock: the JWT check does not use the app's fake clock.
        var token = new AccessTokenBuilder(tenant.KeyId, tenant.Secret).ForUser("student-ana", CallernRoles.Student).Build();

        var ice = await CallernApp.Sdk(app.WithBearer(token)).GetIceServersAsync();
        var server = ice.IceServers.Single();
        var relayed = await Coturn.RelayAsync(server.Urls[0], server.Username, server.Credential);

        Assert.True(ice.ExpiresAt < DateTimeOffset.UtcNow.AddMinutes(-59), $"expected an expiry an hour ago, got {ice.ExpiresAt}");
        Assert.NotEqual(0, relayed.ExitCode);
        Assert.Contains("Cannot complete Allocation", relayed.Output);
    }
}
