using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.Extensions.DependencyInjection;
using CallHolds = Callern.Platform.Wallets.CallHolds;
using WalletExpiry = Callern.Platform.Wallets.WalletExpiry;

namespace Callern.Platform.Tests.Wallets;

/// <summary>Expiry at instants of the fake clock. Its own app: these tests move the clock forward by days.</summary>
public sealed class ExpiryTests(CallernApp app) : IClassFixture<CallernApp>
{
    private WalletExpiry Expiry => app.Services.GetRequiredService<WalletExpiry>();
    private CallHolds Holds => app.Services.GetRequiredService<CallHolds>();

    [Fact]
    public async Task A_lot_expires_at_its_instant_through_an_expiry_entry_and_a_second_pass_does_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var week = await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 60, validityDays: 7)).Id);
        await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 10, validityDays: null)).Id);
        CallernClient Sdk() => app.SdkAs(tenant, student, CallernRoles.Student);
        Assert.Equal(3600, (await Sdk().GetMyWalletAsync()).ExpiringWithin7DaysSeconds);

        app.Clock.SetUtcNow(week.ExpiresAt!.Value.AddTicks(-10));
        await Expiry.ExpireDueAsync();
        Assert.Equal(4200, (await Sdk().GetMyWalletAsync()).AvailableSeconds);

        app.Clock.SetUtcNow(week.ExpiresAt!.Value);
        await Expiry.ExpireDueAsync();
        var wallet = await Sdk().GetMyWalletAsync();
        Assert.Equal((600L, 0L), (wallet.AvailableSeconds, wallet.ExpiringWithin7DaysSeconds));
        Assert.DoesNotContain(wallet.Lots, l => l.Id == week.LotId);
        var expiry = (await Sdk().ListMyTransactionsAsync(null, null)).Items[0];
        Assert.Equal((LedgerEntryKind.Expiry, -3600L, week.LotId), (expiry.Kind, expiry.AvailableDeltaSeconds, expiry.LotId));

        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        await Expiry.ExpireDueAsync();
        Assert.Equal(ledger, await app.AssertLedgerBalancedAsync(tenant.Id, student));
        Assert.Equal(3600, ledger.Expired);
    }

    [Fact]
    public async Task Seconds_held_by_a_live_call_survive_their_lots_expiry_and_what_the_call_leaves_then_expires()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var teacher = await app.CreateTeacherAsync(tenant);
        var lot = await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 10, validityDays: 1)).Id);
        var call = Guid.NewGuid();
        await Holds.HoldAsync(tenant.Id, student, call, 600);

        app.Clock.SetUtcNow(lot.ExpiresAt!.Value.AddMinutes(1));
        await Expiry.ExpireDueAsync();
        var during = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((0L, 600L), (during.Available, during.Held));

        var settled = await Holds.SettleAsync(tenant.Id, call, 200, teacher);

        Assert.Equal((200L, 400L), (settled!.ChargedSeconds, settled.ReleasedSeconds));
        var after = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((0L, 0L, 200L, 400L), (after.Available, after.Held, after.Charged, after.Expired));
    }

    [Fact]
    public async Task A_lot_past_its_expiry_is_not_spent_even_before_the_sweeper_reaches_it()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var lot = await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 10, validityDays: 2)).Id);
        app.Clock.SetUtcNow(lot.ExpiresAt!.Value);

        var hold = await Holds.HoldAsync(tenant.Id, student, Guid.NewGuid(), 600);
        var debit = await Assert.ThrowsAnyAsync<CallernApiException>(() => app.SdkAs(tenant, "admin-1", CallernRoles.Admin)
            .AdjustWalletAsync(student, Guid.NewGuid().ToString(), new AdjustmentRequest { Seconds = -60, Reason = "Refund" }));

        Assert.Equal(0, hold.HeldSeconds);
        Assert.Equal(400, debit.StatusCode);
        await Expiry.ExpireDueAsync();
        Assert.Equal(600, (await app.AssertLedgerBalancedAsync(tenant.Id, student)).Expired);
    }

    [Fact]
    public async Task Sweepers_racing_on_many_wallets_expire_each_lot_exactly_once()
    {
        var tenant = await app.CreateTenantAsync();
        var package = await app.CreatePackageAsync(tenant, 5, validityDays: 3);
        var students = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var student = await app.CreateStudentAsync(tenant);
            await app.BuyAsync(tenant, student, package.Id);
            await app.BuyAsync(tenant, student, package.Id);
            students.Add(student);
        }
        app.Clock.Advance(TimeSpan.FromDays(3));

        var passes = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => Expiry.ExpireDueAsync())));
        await Expiry.ExpireDueAsync();

        Assert.True(passes.Sum() <= 24);
        foreach (var student in students)
        {
            var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
            Assert.Equal((0L, 600L), (ledger.Available, ledger.Expired));
        }
    }

    [Fact]
    public async Task The_background_sweeper_expires_lots_when_the_clock_passes_their_expiry()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var lot = await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 10, validityDays: 5)).Id);

        // The sweeper waits on the app's fake clock: moving it past the expiry and a sweep interval fires it.
        app.Clock.SetUtcNow(lot.ExpiresAt!.Value);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await app.LedgerAsync(tenant.Id, student)).Expired == 0 && DateTime.UtcNow < deadline)
        {
            app.Clock.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(50);
        }

        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((0L, 600L), (ledger.Available, ledger.Expired));
    }
}
