using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Calls.Faults;
using Callern.Sdk;
using Callern.Sdk.Realtime;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.SdkClients;

/// <summary>
/// The C# SDK's realtime client when the platform process dies (SIGKILL) and another starts on the
/// same address: the stateful reconnect cannot resume a connection the new process never knew, so
/// the client falls back to a new connection with its backoff, and commands work again.
/// </summary>
public sealed class RealtimeClientRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task After_the_platform_is_killed_and_restarted_the_client_reconnects_by_itself()
    {
        var platform = await _lab.StartPlatformAsync("first");
        var tenant = await platform.CreateTenantAsync();
        await platform.TeacherAsync(tenant, "kim");
        await using var teacher = new CallernRealtimeClient(new CallernRealtimeOptions
        {
            BaseUrl = _lab.BaseAddress,
            AccessTokenProvider = _ => ValueTask.FromResult(platform.Token(tenant, "kim", CallernRoles.Teacher)),
        });
        var reconnected = new Recorder<ReconnectedEvent>();
        teacher.Reconnected += reconnected.Record;
        await teacher.StartAsync();
        await teacher.SetAvailabilityAsync(PresenceStatus.Available);

        _lab.KillPlatform();
        await _lab.StartPlatformAsync("second");
        await reconnected.NextAsync();
        var presence = await teacher.SetAvailabilityAsync(PresenceStatus.Away);

        Assert.Equal(RealtimeConnectionState.Connected, teacher.ConnectionState);
        Assert.Equal((PresenceStatus.Away, true), (presence.Status, presence.Connected));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
