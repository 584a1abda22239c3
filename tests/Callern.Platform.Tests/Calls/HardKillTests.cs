using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Npgsql;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls;

/// <summary>
/// The platform as a real process, killed with SIGKILL in the middle of a call and started again on
/// the same database: no shutdown hook runs, the dead process's connection rows stay behind with
/// their last heartbeat, and only the durable deadlines carry the call on. Real clock, short cadences.
/// </summary>
public sealed class HardKillTests(ITestOutputHelper output) : IDisposable
{
    // A beat every second, so a call takes the dead process's connections as gone after three
    // missed beats (SignalingOptions.ConnectionGoneAfter) instead of 45 s.
    private const int HeartbeatSeconds = 1;

    private readonly TestDatabase _database = new();
    private readonly string _keysPath = Path.Combine(Path.GetTempPath(), "callern-test-keys-" + Guid.NewGuid().ToString("N"));
    private readonly string _filesPath = Path.Combine(Path.GetTempPath(), "callern-test-files-" + Guid.NewGuid().ToString("N"));
    private readonly string _operatorKey = "op_" + Guid.NewGuid().ToString("N");
    private readonly List<PlatformProcess> _processes = [];

    [Fact]
    public async Task A_call_whose_platform_is_killed_is_ended_by_the_next_start_and_billed_once_up_to_the_last_heartbeat()
    {
        var first = await StartAsync("first");
        var tenant = await first.CreateTenantAsync();
        // The shortest grace, and a charge for every metered second, so a few seconds of call show.
        await first.UseSettingsAsync(tenant, c => { c.ReconnectGraceSeconds = 5; c.NoChargeUnderSeconds = 0; });
        await first.StudentWithSecondsAsync(tenant, "s", 600);
        var teacher = await first.AvailableTeacherAsync(tenant, "t");
        var student = await CallParty.JoinAsync(first, tenant, "s", CallernRoles.Student);
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        await Task.Delay(TimeSpan.FromSeconds(4));

        var killing = DateTimeOffset.UtcNow;
        first.Kill();
        var killed = DateTimeOffset.UtcNow;
        // The clients see their sockets close; they were built without automatic reconnect.
        await student.DisposeAsync();
        await teacher.DisposeAsync();
        var lastHeartbeat = await LastHeartbeatAsync(tenant.Id);

        var next = await StartAsync("next");
        var admin = next.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        // Stale after 3 s, then the 5 s grace; 40 s more covers a tick the kill left claimed (retried after 30 s).
        var summary = await Polling.EventuallyAsync(() => admin.GetCallAsync(callId), c => c.State == Sdk.CallState.Ended, TimeSpan.FromSeconds(45));

        Assert.Equal((Sdk.CallState.Ended, EndReasons.ConnectionLost), (summary.State, summary.EndReason));
        // The process beat until it died: its last committed beat is no later than the kill and at
        // most one late beat earlier.
        Assert.InRange(lastHeartbeat, killing - TimeSpan.FromSeconds(2 * HeartbeatSeconds), killed);
        // Billed exactly from media connected to that beat, in whole seconds: nothing of the time
        // the platform was dead or restarting, and nothing lost before the last beat.
        var connectedAt = summary.ConnectedAt!.Value;
        Assert.Equal((long)(lastHeartbeat - connectedAt).TotalSeconds, summary.BilledSeconds);
        Assert.InRange(summary.BilledSeconds!.Value, 3, (long)(killed - connectedAt).TotalSeconds);
        var wallet = await admin.GetStudentWalletAsync("s");
        Assert.Equal((600 - summary.BilledSeconds.Value, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
        var transactions = await admin.ListStudentTransactionsAsync("s");
        Assert.Single(transactions.Items, t => t.Kind == LedgerEntryKind.Charge);
    }

    private async Task<PlatformProcess> StartAsync(string name)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Callern"] = _database.ConnectionString,
            ["Callern__DataProtection__KeysPath"] = _keysPath,
            ["Callern__Classroom__FilesPath"] = _filesPath,
            ["Callern__Hub__HeartbeatSeconds"] = HeartbeatSeconds.ToString(),
            ["Callern__Hub__SweepSeconds"] = "1",
            // The least the validation allows; well after calls take a connection as gone.
            ["Callern__Hub__StaleConnectionSeconds"] = "60",
        };
        var process = await PlatformProcess.StartAsync(name, environment, _operatorKey, output);
        _processes.Add(process);
        return process;
    }

    /// <summary>The last beat both participants' connections got: the latest moment the dead process saw them both.</summary>
    private async Task<DateTimeOffset> LastHeartbeatAsync(Guid tenantId)
    {
        await using var db = _database.CreateDataSource();
        await using var command = db.CreateCommand(
            """
            SELECT min(seen) FROM (SELECT max(last_seen_at) AS seen FROM hub_connections
                                   WHERE tenant_id = $1 AND user_id IN ('s', 't') GROUP BY user_id) AS participants
            HAVING count(*) = 2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = tenantId });
        var seen = await command.ExecuteScalarAsync() ?? throw new InvalidOperationException("A participant's connection row is missing.");
        return new DateTimeOffset((DateTime)seen, TimeSpan.Zero);
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }
        _database.Dispose();
        foreach (var path in new[] { _keysPath, _filesPath }.Where(Directory.Exists))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}
