using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Calls.Faults;
using Callern.Sdk;
using Callern.Sdk.Webhooks;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Webhooks;

/// <summary>
/// The platform process is killed (SIGKILL) after an event committed and before it reached the
/// receiver, and started again: the event is delivered by the new process, once, on the real clock
/// and the default retry schedule.
/// </summary>
public sealed class WebhookKillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task An_event_committed_before_a_SIGKILL_is_delivered_once_after_the_restart()
    {
        await using var receiver = await WebhookReceiver.StartNewAsync();
        await _lab.StartPlatformAsync("first");
        var host = _lab.Host;
        var tenant = await host.CreateTenantAsync();
        await host.StudentWithSecondsAsync(tenant, "eva", 60);
        var endpoint = await host.SdkAs(tenant, "backend", CallernRoles.Service)
            .CreateWebhookEndpointAsync(new CreateWebhookEndpointRequest { Url = receiver.Url.ToString(), Events = ["wallet.adjustment"] });
        // The receiver is away: the first attempt fails and the delivery waits for its retry in the database.
        await receiver.StopAsync();

        var adjustment = await host.SdkAs(tenant, "admin", CallernRoles.Admin)
            .AdjustWalletAsync("eva", Guid.NewGuid().ToString(), new AdjustmentRequest { Seconds = 120, Reason = "committed before the kill" });
        _lab.KillPlatform();
        await receiver.StartAsync();
        await _lab.StartPlatformAsync("second");
        // Within the retry's wait, or the lease (25 s) of an attempt the kill cut short.
        var delivered = await receiver.DeliveredAsync(1, TimeSpan.FromSeconds(45));
        await Task.Delay(TimeSpan.FromSeconds(3));

        var e = new WebhookVerifier(endpoint.Secret).Verify(delivered[0].Body, delivered[0].Id, delivered[0].Timestamp, delivered[0].Signature);
        Assert.Equal(("wallet.adjustment", adjustment.Id), (e.Type, e.Data.GetProperty("id").GetGuid()));
        Assert.Equal(0, receiver.Pending);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
