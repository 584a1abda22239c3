using Callern.Platform.Tests.Calls.Faults;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Callern.Sdk.Realtime;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.ScaleOut;

/// <summary>
/// Issue 19: Redis (the backplane) is killed for 10 s in the middle of a lesson whose parties are
/// on different nodes, then started again on its port. What docs/deployment.md says must hold:
/// each party's media confirmations go to its own node and the database, so the call keeps
/// billing what both confirm; a hub call that sends an event answers `unavailable`; a new
/// connection is still accepted; the nodes reconnect to Redis by themselves and the lesson's
/// events cross again; one charge, within the bound.
/// </summary>
public sealed class RedisLossTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(10);

    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task Ten_seconds_without_Redis_bill_what_both_confirmed_and_the_nodes_talk_again_by_themselves()
    {
        await _lab.StartRedisAsync(nodes: 2);
        var nodeA = await _lab.StartNodeAsync(1);
        var nodeB = await _lab.StartNodeAsync(2);
        var call = await _lab.ConnectedCallAsync(studentBaseUrl: nodeA.BaseAddress, teacherBaseUrl: nodeB.BaseAddress);
        await Task.Delay(TimeSpan.FromSeconds(15));

        _lab.KillRedis();
        var killedAt = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(2));
        // Nothing crosses meanwhile: the app is told so with a code it retries on.
        var refused = await Assert.ThrowsAsync<CallernRealtimeException>(() =>
            call.Student.Client.SendSignalAsync(call.CallId, new SignalMessage { Type = "candidate", Payload = "v=0 during the outage" }));
        _lab.Log($"a signal during the outage: {refused.Code} after {(DateTimeOffset.UtcNow - killedAt).TotalSeconds:F1} s: {refused.Message}");
        Assert.Equal("unavailable", refused.Code);
        // A REST change whose push cannot go out answers 503, never a server error.
        var presence = await Assert.ThrowsAsync<CallernApiException>(() =>
            nodeB.SdkAs(call.Tenant, "t", CallernRoles.Teacher).SetMyAvailabilityAsync(new SetAvailabilityRequest { Status = PresenceStatus.Available }));
        Assert.Equal(503, presence.StatusCode);
        // The nodes keep serving: a new connection is accepted meanwhile.
        var admin = _lab.Own(new CallernRealtimeClient(new CallernRealtimeOptions
        {
            BaseUrl = nodeA.BaseAddress,
            AccessTokenProvider = _ => ValueTask.FromResult(nodeA.Token(call.Tenant, "admin-1", CallernRoles.Admin)),
        }));
        await admin.StartAsync().WaitAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(killedAt + Outage - DateTimeOffset.UtcNow);
        await _lab.StartRedisAsync(nodes: 2);
        var backAt = DateTimeOffset.UtcNow;

        // The nodes resubscribe by themselves: a signal from node A reaches the teacher on node B again.
        var crossed = await Polling.EventuallyAsync(() => SignalCrossesAsync(call), done => done, TimeSpan.FromSeconds(30));
        Assert.True(crossed, "a signal crosses the nodes again once Redis is back");
        _lab.Log($"signals cross again {(DateTimeOffset.UtcNow - backAt).TotalSeconds:F1} s after Redis came back");
        // Media confirmed to each party's own node throughout: the outage did not pause the billing.
        foreach (var party in new[] { call.Student, call.Teacher })
        {
            var during = party.Reports.Where(r => r.SampledAt > killedAt && r.SampledAt < backAt).ToList();
            Assert.NotEmpty(during);
            Assert.All(during, r => Assert.True(r.Result is { Billing: true }, $"{party.UserId}: sampled {r.SampledAt:HH:mm:ss.fff}, {r.Result?.ToString() ?? r.RefusedCode}"));
        }
        await Task.Delay(TimeSpan.FromSeconds(5));

        await call.Student.Client.EndCallAsync(call.CallId);
        var ended = await _lab.EndedAsync(call, TimeSpan.FromSeconds(10));

        Assert.Equal((CallState.Ended, "completed"), (ended.State, ended.EndReason));
        Assert.Equal(call.CallId, (await call.Teacher.Ended.WaitAsync(TimeSpan.FromSeconds(10))).CallId);
        await _lab.AssertHonestBillingAsync("two nodes, Redis killed for 10 s", call, ended);
    }

    private async Task<bool> SignalCrossesAsync(FaultCall call)
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var payload = "v=0 " + Guid.NewGuid().ToString("N");
        Task OnSignal(SignalEvent e)
        {
            if (e.Signal.Payload == payload)
            {
                received.TrySetResult();
            }
            return Task.CompletedTask;
        }
        call.Teacher.Client.SignalReceived += OnSignal;
        try
        {
            await call.Student.Client.SendSignalAsync(call.CallId, new SignalMessage { Type = "candidate", Payload = payload });
            await received.Task.WaitAsync(TimeSpan.FromSeconds(1));
            return true;
        }
        catch (Exception e) when (e is TimeoutException or CallernRealtimeException)
        {
            _lab.Log($"signal did not cross: {e.GetType().Name} {e.Message}");
            return false;
        }
        finally
        {
            call.Teacher.Client.SignalReceived -= OnSignal;
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
