using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// Issue 17: media fails while both hub connections stay up (ICE failed, the peer's tab froze):
/// the teacher's inbound counter stops growing though its confirmations keep arriving. Billing
/// follows the media, not the connections: it pauses at the last growing confirmation, both sides
/// hear "reconnecting", and it resumes when media flows again.
/// </summary>
public sealed class MediaFailureTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task Media_that_stops_while_both_connections_stay_up_pauses_billing_until_it_flows_again()
    {
        await _lab.StartPlatformAsync("platform");
        var call = await _lab.ConnectedCallAsync();
        await Task.Delay(TimeSpan.FromSeconds(10));

        call.Teacher.StopMedia();
        var paused = await Polling.EventuallyAsync(
            () => Task.FromResult(call.Student.PeerConnections.Any(e => !e.Connected) && call.Teacher.PeerConnections.Any(e => !e.Connected)),
            done => done, TimeSpan.FromSeconds(15));
        Assert.True(paused, "both sides hear that billing paused");
        await Task.Delay(TimeSpan.FromSeconds(8));
        call.Teacher.ResumeMedia();
        var back = await Polling.EventuallyAsync(
            () => Task.FromResult(call.Student.PeerConnections.Any(e => e.Connected) && call.Teacher.PeerConnections.Any(e => e.Connected)),
            done => done, TimeSpan.FromSeconds(15));
        Assert.True(back, "both sides hear that billing resumed");
        await Task.Delay(TimeSpan.FromSeconds(6));

        await call.Student.Client.EndCallAsync(call.CallId);
        var ended = await _lab.EndedAsync(call, TimeSpan.FromSeconds(10));

        Assert.Equal((CallState.Ended, "completed"), (ended.State, ended.EndReason));
        await _lab.AssertHonestBillingAsync("media fails for about 12 s while both hub connections stay up", call, ended);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
