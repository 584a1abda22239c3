using Callern.Platform.Signaling;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Signaling;

/// <summary>Two connections per heartbeat statement, so five connections take three statements.</summary>
public sealed class SmallHeartbeatChunkApp : CallernApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Callern:Hub:HeartbeatChunk"] = "2",
    };
}

public sealed class HeartbeatTests(SmallHeartbeatChunkApp app) : IClassFixture<SmallHeartbeatChunkApp>
{
    [Fact]
    public async Task A_beat_stamps_every_connection_once_in_chunks_spread_over_its_first_half()
    {
        var tenant = await app.CreateTenantAsync();
        var teachers = new List<HubClient>();
        for (var i = 0; i < 5; i++)
        {
            var teacher = await HubClient.ConnectAsync(app, tenant, $"teacher-{i}", CallernRoles.Teacher);
            await teacher.SetAvailabilityAsync("available");
            teachers.Add(teacher);
        }
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var connectedAt = (await admin.ListTeacherPresenceAsync()).Items.Max(p => p.LastSeenAt!.Value);
        var period = TimeSpan.FromSeconds(new SignalingOptions().HeartbeatSeconds);

        // The app's beat falls a whole period after it started, and nothing else has moved its clock.
        app.Clock.Advance(period);
        var beatAt = app.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        // The chunks after the first wait on the same clock: move it in small steps until all are stamped.
        IReadOnlyList<DateTimeOffset> stamps = [];
        for (var step = 0; step < 40 && stamps.Count(s => s > connectedAt) < teachers.Count; step++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50));
            stamps = [.. (await admin.ListTeacherPresenceAsync()).Items.Select(p => p.LastSeenAt!.Value)];
            app.Clock.Advance(TimeSpan.FromMilliseconds(250));
        }
        var stampedAt = stamps.Select(s => s.ToUnixTimeMilliseconds()).ToList();

        Assert.Equal(teachers.Count, stampedAt.Count);
        Assert.All(stampedAt, at => Assert.InRange(at, beatAt, beatAt + (long)(period / 2).TotalMilliseconds));
        Assert.Equal(3, stampedAt.Distinct().Count());
        Assert.Equal(beatAt, stampedAt.Min());
        foreach (var teacher in teachers)
        {
            await teacher.DisposeAsync();
        }
    }
}
