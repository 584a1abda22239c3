using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Dapper;
using Npgsql;

namespace Callern.Platform.Tests.Calls;

public sealed class RestartTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_call_whose_platform_stops_is_ended_by_the_next_start_and_billed_once_up_to_the_last_moment_seen(bool rowsSweptFirst)
    {
        double lastSeen;
        var first = new CallernApp();
        var pair = await first.PairAsync(600);
        var callId = await CallTestKit.ConnectedCallAsync(pair.Student, pair.Teacher);
        await first.AdvanceAsync(TimeSpan.FromSeconds(40));

        // The process goes away with the call running; a new one starts on the same database.
        var next = first.NextNode();
        await pair.DisposeAsync();
        first.Dispose();
        await using var _ = next;
        // What the stopped process had written: each party's confirmations reach the database about
        // once per heartbeat, so the last moment both were seen, as far as anyone can know now.
        await using (var connection = new NpgsqlConnection(next.Database.ConnectionString))
        {
            lastSeen = await connection.QuerySingleAsync<double>(
                "SELECT extract(epoch FROM least(student_confirmed_at, teacher_confirmed_at) - metering_since) FROM calls WHERE id = @callId",
                new { callId });
        }
        if (rowsSweptFirst)
        {
            // After a long outage the new node's presence sweeper may remove the dead node's
            // connection rows before the call's tick looks at them: billing must still stop at the
            // last moment both were seen, not run through the outage.
            next.Clock.Advance(TimeSpan.FromSeconds(80));
            await using var connection = new NpgsqlConnection(next.Database.ConnectionString);
            await connection.ExecuteAsync("DELETE FROM hub_connections");
        }
        await next.AdvanceAsync(TimeSpan.FromSeconds(90));

        var admin = next.SdkAs(pair.Tenant, "admin-1", CallernRoles.Admin);
        var summary = await admin.GetCallAsync(callId);
        var wallet = await admin.GetStudentWalletAsync("s");
        Assert.Equal((Sdk.CallState.Ended, EndReasons.ConnectionLost), (summary.State, summary.EndReason));
        // Billed up to the last moment both were seen (40 s of media, written within a heartbeat), not through the outage.
        Assert.Equal((long)lastSeen, summary.BilledSeconds!.Value);
        Assert.InRange(lastSeen, 40 - 15, 40);
        Assert.Equal((600 - summary.BilledSeconds.Value, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
        var transactions = await admin.ListStudentTransactionsAsync("s");
        Assert.Single(transactions.Items, t => t.Kind == LedgerEntryKind.Charge);
    }
}
