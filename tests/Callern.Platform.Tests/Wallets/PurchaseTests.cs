using System.Net;
using System.Net.Http.Json;
using System.Text;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Wallets;

public sealed class PurchaseTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Purchase_credits_a_lot_that_expires_after_the_packages_validity()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var package = await app.CreatePackageAsync(tenant, minutes: 60, validityDays: 30, price: 49.99m);

        var purchase = await app.BuyAsync(tenant, student, package.Id);

        Assert.Equal(3600, purchase.Seconds);
        Assert.Equal(49.99m, purchase.Price);
        Assert.Equal(purchase.PurchasedAt.AddDays(30), purchase.ExpiresAt);
        var wallet = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetStudentWalletAsync(student);
        Assert.Equal((3600L, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
        var lot = Assert.Single(wallet.Lots);
        Assert.Equal((purchase.LotId, purchase.ExpiresAt, 3600L), (lot.Id, lot.ExpiresAt, lot.RemainingSeconds));
        var mine = await app.SdkAs(tenant, student, CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal(3600, mine.AvailableSeconds);
        var entry = Assert.Single((await app.SdkAs(tenant, student, CallernRoles.Student).ListMyTransactionsAsync(null, null)).Items);
        Assert.Equal((LedgerEntryKind.Purchase, 3600L, purchase.Id), (entry.Kind, entry.AvailableDeltaSeconds, entry.SourceId));
        var fetched = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetPurchaseAsync(student, purchase.Id);
        Assert.Equal(purchase.PaymentReference, fetched.PaymentReference);
        await app.AssertLedgerBalancedAsync(tenant.Id, student);
    }

    [Fact]
    public async Task Purchase_retried_20_times_concurrently_with_one_key_credits_once_and_answers_the_same()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var package = await app.CreatePackageAsync(tenant, minutes: 30, validityDays: null);
        var key = Guid.NewGuid().ToString();
        var body = new { packageId = package.Id, paymentReference = "stripe-pi-42" };

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/students/{student}/wallet/purchases") { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", key);
            var response = await app.As(tenant, "service-1", CallernRoles.Service).SendAsync(request);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Single(responses.Select(r => r.Body).Distinct());
        var wallet = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetStudentWalletAsync(student);
        Assert.Equal(1800, wallet.AvailableSeconds);
        Assert.Single(wallet.Lots);
        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal(1800, ledger.Credited);
    }

    [Fact]
    public async Task Same_key_with_a_different_body_is_refused_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var small = await app.CreatePackageAsync(tenant, minutes: 30, validityDays: null);
        var large = await app.CreatePackageAsync(tenant, minutes: 600, validityDays: null);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var first = await admin.RecordPurchaseAsync(student, "key-1", new PurchaseRequest { PackageId = small.Id, PaymentReference = "order-1" });

        var reused = await Assert.ThrowsAnyAsync<CallernApiException>(() =>
            admin.RecordPurchaseAsync(student, "key-1", new PurchaseRequest { PackageId = large.Id, PaymentReference = "order-1" }));

        Assert.Equal(422, reused.StatusCode);
        Assert.Contains("Idempotency-Key", reused.ErrorFields());
        Assert.Equal(1800, (await admin.GetStudentWalletAsync(student)).AvailableSeconds);
        var replay = await admin.RecordPurchaseAsync(student, "key-1", new PurchaseRequest { PackageId = small.Id, PaymentReference = "order-1" });
        Assert.Equal(first.Id, replay.Id);
    }

    [Fact]
    public async Task Bad_purchases_get_4xx_with_field_errors_and_change_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync("Other School");
        var student = await app.CreateStudentAsync(tenant);
        var otherStudent = await app.CreateStudentAsync(other);
        var package = await app.CreatePackageAsync(tenant, minutes: 60, validityDays: 30);
        var archived = await app.CreatePackageAsync(tenant, minutes: 60, validityDays: 30);
        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).ArchivePackageAsync(archived.Id);
        var foreign = await app.CreatePackageAsync(other, minutes: 60, validityDays: 30);
        await app.BuyAsync(tenant, student, package.Id);
        var before = await app.LedgerAsync(tenant.Id, student);
        var http = app.As(tenant, "admin-1", CallernRoles.Admin);

        async Task<(HttpStatusCode Status, string Body)> Post(string studentId, string? key, string body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/students/{studentId}/wallet/purchases")
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            if (key is not null)
            {
                request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
            }
            var response = await http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        string Body(Guid packageId) => $$"""{"packageId":"{{packageId}}","paymentReference":"order-9"}""";

        var missingKey = await Post(student, null, Body(package.Id));
        Assert.Equal(HttpStatusCode.BadRequest, missingKey.Status);
        Assert.Contains("Idempotency-Key", missingKey.Body);
        var unknownPackage = await Post(student, "k1", Body(Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.BadRequest, unknownPackage.Status);
        Assert.Contains("packageId", unknownPackage.Body);
        var archivedPackage = await Post(student, "k2", Body(archived.Id));
        Assert.Equal(HttpStatusCode.BadRequest, archivedPackage.Status);
        Assert.Contains("packageId", archivedPackage.Body);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post(student, "k3", Body(foreign.Id))).Status);
        var noReference = await Post(student, "k4", $$"""{"packageId":"{{package.Id}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, noReference.Status);
        Assert.Contains("paymentReference", noReference.Body);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post(student, "k5", """{"packageId":"not-a-guid"}""")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Post("nobody", "k6", Body(package.Id))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Post(otherStudent, "k7", Body(package.Id))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.As(tenant, student, CallernRoles.Student).PostAsJsonAsync(
            $"/v1/students/{student}/wallet/purchases", new { packageId = package.Id, paymentReference = "x" })).StatusCode);

        Assert.Equal(before, await app.LedgerAsync(tenant.Id, student));
        Assert.Equal(0, (await app.LedgerAsync(other.Id, otherStudent)).Credited);
        // A refused request does not use up its key: the same key works once the request is right.
        Assert.Equal(HttpStatusCode.OK, (await Post(student, "k1", Body(package.Id))).Status);
    }

    [Fact]
    public async Task Admin_grants_and_debits_and_a_debit_beyond_the_balance_is_refused()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        var grant = await admin.AdjustWalletAsync(student, "grant-1", new AdjustmentRequest { Seconds = 900, Reason = "Sorry for the dropped call", ValidityDays = 14 });
        Assert.Equal(grant.CreatedAt.AddDays(14), grant.ExpiresAt);
        var replay = await admin.AdjustWalletAsync(student, "grant-1", new AdjustmentRequest { Seconds = 900, Reason = "Sorry for the dropped call", ValidityDays = 14 });
        Assert.Equal(grant.Id, replay.Id);
        await admin.AdjustWalletAsync(student, "debit-1", new AdjustmentRequest { Seconds = -300, Reason = "Refunded part of order 7" });
        Assert.Equal(600, (await admin.GetStudentWalletAsync(student)).AvailableSeconds);

        var tooMuch = await Assert.ThrowsAnyAsync<CallernApiException>(() =>
            admin.AdjustWalletAsync(student, "debit-2", new AdjustmentRequest { Seconds = -601, Reason = "Refund" }));
        Assert.Equal(400, tooMuch.StatusCode);
        Assert.Equal(["seconds"], tooMuch.ErrorFields());
        foreach (var bad in new[]
        {
            new AdjustmentRequest { Seconds = 0, Reason = "Nothing" },
            new AdjustmentRequest { Seconds = 1_000_000_000, Reason = "Typo" },
            new AdjustmentRequest { Seconds = 60 },
            new AdjustmentRequest { Seconds = -60, Reason = "Debit", ValidityDays = 3 },
        })
        {
            var refused = await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.AdjustWalletAsync(student, Guid.NewGuid().ToString(), bad));
            Assert.Equal(400, refused.StatusCode);
        }
        var service = app.As(tenant, "service-1", CallernRoles.Service);
        Assert.Equal(HttpStatusCode.Forbidden, (await service.PostAsJsonAsync($"/v1/students/{student}/wallet/adjustments", new { seconds = 60, reason = "x" })).StatusCode);

        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((600L, 900L, 300L), (ledger.Available, ledger.Credited, ledger.Debited));
    }

    [Fact]
    public async Task Transactions_are_listed_newest_first_with_cursor_pagination()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var package = await app.CreatePackageAsync(tenant, minutes: 10, validityDays: null);
        for (var i = 0; i < 5; i++)
        {
            await app.BuyAsync(tenant, student, package.Id);
        }
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        var seen = new List<LedgerEntry>();
        string? cursor = null;
        do
        {
            var page = await admin.ListStudentTransactionsAsync(student, cursor, 2);
            seen.AddRange(page.Items);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(5, seen.Count);
        Assert.Equal(seen.OrderByDescending(e => e.Id).Select(e => e.Id), seen.Select(e => e.Id));
        Assert.Equal(400, (await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.ListStudentTransactionsAsync(student, "bm90LWEtbnVtYmVy", 2))).StatusCode);
    }

    [Fact]
    public async Task Revenue_is_summed_per_currency_within_the_period()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var euros = await app.CreatePackageAsync(tenant, 60, null, price: 19.99m, currency: "EUR");
        var dollars = await app.CreatePackageAsync(tenant, 120, null, price: 35m, currency: "USD");
        var from = app.Clock.GetUtcNow();
        await app.BuyAsync(tenant, student, euros.Id);
        await app.BuyAsync(tenant, student, euros.Id);
        await app.BuyAsync(tenant, student, dollars.Id);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        var report = await admin.GetRevenueReportAsync(from, from.AddHours(1));

        Assert.Equal([("EUR", 39.98m, 2L, 7200L), ("USD", 35.00m, 1L, 7200L)],
            report.Currencies.Select(c => (c.Currency, c.Amount, c.Purchases, c.Seconds)));
        Assert.Empty((await admin.GetRevenueReportAsync(from.AddHours(1), from.AddHours(2))).Currencies);
        Assert.Equal(400, (await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.GetRevenueReportAsync(from, from))).StatusCode);
    }
}
