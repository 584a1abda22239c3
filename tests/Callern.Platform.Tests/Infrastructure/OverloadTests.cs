using System.Net;
using System.Net.Http.Json;
using Callern.Platform.Tests.Signaling;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// Three pooled database connections: a test takes them all to play an overloaded node. The wait for one
/// (which is also the wait for a new physical connection) is 5 s, since a loaded CI machine can take more
/// than a second to open the first one.
/// </summary>
public sealed class TinyPoolApp : CallernApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ConnectionStrings:Callern"] = Database.ConnectionString + ";Maximum Pool Size=3;Timeout=5",
    };
}

public sealed class OverloadTests(TinyPoolApp app) : IClassFixture<TinyPoolApp>
{
    [Fact]
    public async Task An_overloaded_node_answers_503_and_unavailable_changes_nothing_and_serves_again_once_free()
    {
        var tenant = await app.CreateTenantAsync();
        await using var teacher = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);
        var dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();

        var held = new List<NpgsqlConnection>();
        for (var i = 0; i < 3; i++)
        {
            held.Add(await dataSource.OpenConnectionAsync());
        }
        var rest = await admin.GetAsync("/v1/teachers");
        var hub = await Assert.ThrowsAsync<HubException>(() => teacher.SetAvailabilityAsync("available"));
        foreach (var connection in held)
        {
            await connection.DisposeAsync();
        }
        var presence = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).ListTeacherPresenceAsync();
        var again = await teacher.SetAvailabilityAsync("available");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, rest.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), rest.Headers.RetryAfter?.Delta);
        Assert.Contains("busy", (await rest.Content.ReadFromJsonAsync<ProblemDetails>())!.Title);
        Assert.Contains("unavailable:", hub.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(presence.Items, p => p.TeacherId == "teacher-1" && p.Status == PresenceStatus.Available);
        Assert.Equal(PresenceStatus.Available, again.Status);
    }
}
