using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Calls;

public sealed class RestartTests
{
    [Fact]
    public async Task A_call_whose_platform_stops_is_ended_by_the_next_start_and_billed_once_up_to_the_last_moment_seen()
    {
        var first = new CallernApp();
        var pair = await first.PairAsync(600);
        var callId = await CallTestKit.ConnectedCallAsync(pair.Student, pair.Teacher);
        await first.AdvanceAsync(TimeSpan.FromSeconds(20));

        // The process goes away with the call running; a new one starts on the same database.
        var next = first.NextNode();
        await pair.DisposeAsync();
        first.Dispose();
        await using var _ = next;
        await next.AdvanceAsync(TimeSpan.FromSeconds(90));

        var admin = next.SdkAs(pair.Tenant, "admin-1", CallernRoles.Admin);
        var summary = await admin.GetCallAsync(callId);
        var wallet = await admin.GetStudentWalletAsync("s");
        Assert.Equal((Sdk.CallState.Ended, EndReasons.ConnectionLost), (summary.State, summary.EndReason));
        Assert.InRange(summary.BilledSeconds!.Value, 20, 25);
        Assert.Equal((600 - summary.BilledSeconds.Value, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
        var transactions = await admin.ListStudentTransactionsAsync("s");
        Assert.Single(transactions.Items, t => t.Kind == LedgerEntryKind.Charge);
    }
}
