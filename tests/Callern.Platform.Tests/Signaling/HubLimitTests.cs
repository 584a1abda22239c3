using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace Callern.Platform.Tests.Signaling;

/// <summary>Small hub limits, so a test reaches them quickly: 5 invocations at once, 1 per second after, 4 KiB messages.</summary>
public sealed class SmallHubLimitsApp : CallernApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Callern:Hub:MessageBurst"] = "5",
        ["Callern:Hub:MessagesPerSecond"] = "1",
        ["Callern:Hub:MaxMessageBytes"] = "4096",
    };
}

public sealed class HubLimitTests(SmallHubLimitsApp app) : IClassFixture<SmallHubLimitsApp>
{
    [Fact]
    public async Task A_flood_gets_rate_limited_errors_for_that_connection_only_and_the_bucket_refills()
    {
        var tenant = await app.CreateTenantAsync();
        await using var flooder = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);
        await using var other = await HubClient.ConnectAsync(app, tenant, "teacher-2", CallernRoles.Teacher);

        for (var i = 0; i < 5; i++)
        {
            await flooder.SetAvailabilityAsync("available");
        }
        var limited = await Assert.ThrowsAsync<HubException>(() => flooder.SetAvailabilityAsync("away"));
        var otherAnswer = await other.SetAvailabilityAsync("away");
        app.Clock.Advance(TimeSpan.FromSeconds(2));
        var afterRefill = await flooder.SetAvailabilityAsync("away");

        Assert.Contains("rate_limited:", limited.Message, StringComparison.Ordinal);
        Assert.Equal(PresenceStatus.Away, otherAnswer.Status);
        Assert.Equal(PresenceStatus.Away, afterRefill.Status);
        Assert.Equal(HubConnectionState.Connected, flooder.Connection.State);
    }

    [Fact]
    public async Task An_oversized_message_closes_only_the_sender_with_an_error()
    {
        var tenant = await app.CreateTenantAsync();
        await using var sender = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);
        await using var other = await HubClient.ConnectAsync(app, tenant, "teacher-2", CallernRoles.Teacher);

        await Assert.ThrowsAnyAsync<Exception>(() => sender.Connection.InvokeAsync<TeacherPresence>("SetAvailability", new string('x', 8 * 1024)));
        var closedWith = await sender.Closed.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.NotNull(closedWith);
        Assert.Equal(HubConnectionState.Disconnected, sender.Connection.State);
        Assert.Equal(PresenceStatus.Available, (await other.SetAvailabilityAsync("available")).Status);
    }

    [Fact]
    public async Task Unknown_methods_wrong_arguments_and_wrong_roles_get_hub_errors_and_the_connection_stays()
    {
        var tenant = await app.CreateTenantAsync();
        await using var teacher = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);
        await using var student = await HubClient.ConnectAsync(app, tenant, "student-1", CallernRoles.Student);

        var unknown = await Assert.ThrowsAsync<HubException>(() => teacher.Connection.InvokeAsync("NoSuchMethod"));
        var badValue = await Assert.ThrowsAsync<HubException>(() => teacher.SetAvailabilityAsync("sleeping"));
        var tooMany = await Assert.ThrowsAsync<HubException>(() => teacher.Connection.InvokeAsync<TeacherPresence>("SetAvailability", "away", 2));
        var forbidden = await Assert.ThrowsAsync<HubException>(() => student.SetAvailabilityAsync("available"));

        Assert.Contains("NoSuchMethod", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("SetAvailability", badValue.Message, StringComparison.Ordinal);
        Assert.Contains("SetAvailability", tooMany.Message, StringComparison.Ordinal);
        Assert.Contains("forbidden:", forbidden.Message, StringComparison.Ordinal);
        Assert.Equal(PresenceStatus.Away, (await teacher.SetAvailabilityAsync("away")).Status);
        Assert.Equal(HubConnectionState.Connected, student.Connection.State);
    }
}
