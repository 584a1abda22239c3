using System.Text.Json;
using Callern.Platform.Calls;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Callern.Sdk.Webhooks;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Call = Callern.Platform.Calls.Call;

namespace Callern.Platform.Tests.Webhooks;

/// <summary>
/// Webhooks to a real receiver on a socket: what a call and a wallet send, signed and in order per
/// subject; retries after failures and an outage, on the platform's (fake) clock; the event log.
/// </summary>
public sealed class WebhookDeliveryTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task A_call_from_request_to_rating_is_delivered_signed_in_order_and_listed_in_the_event_log()
    {
        await using var receiver = await WebhookReceiver.StartNewAsync();
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var school = app.SdkAs(tenant, "backend", CallernRoles.Service);
        var endpoint = await school.CreateWebhookEndpointAsync(new Sdk.CreateWebhookEndpointRequest { Url = receiver.Url.ToString(), Description = "CRM" });

        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        await app.AdvanceAsync(TimeSpan.FromSeconds(30));
        var ended = await student.InvokeAsync<Call>("EndCall", callId);
        await app.SdkAs(tenant, "s", CallernRoles.Student).RateCallAsync(callId, new Sdk.RateCallRequest { Stars = 5, Comment = "Great lesson" });
        var delivered = await receiver.DeliveredAsync(6);

        var verifier = new WebhookVerifier([endpoint.Secret], time: app.Clock);
        var events = delivered.Select(d => verifier.Verify(d.Body, d.Id, d.Timestamp, d.Signature)).ToList();
        Assert.Equal(
            ["call.requested", "call.ringing", "call.accepted", "call.connected", "call.ended", "call.rated"],
            events.Select(e => e.Type));
        Assert.Equal([1L, 2, 3, 4, 5, 6], events.Select(e => e.Sequence));
        Assert.All(events, e => Assert.Equal(($"call:{callId}", tenant.Id.ToString()), (e.Subject, e.TenantId)));
        Assert.All(delivered, d => Assert.Equal(d.Id, JsonDocument.Parse(d.Body).RootElement.GetProperty("id").GetString()));
        var endedData = events[4].Data;
        Assert.Equal(("completed", ended.BilledSeconds, ended.BilledSeconds),
            (endedData.GetProperty("reason").GetString(), endedData.GetProperty("billedSeconds").GetInt64(), endedData.GetProperty("chargedSeconds").GetInt64()));
        Assert.True(ended.BilledSeconds >= 28, $"billed {ended.BilledSeconds} s of a 30 s lesson");
        Assert.Equal(("t", 5), (events[1].Data.GetProperty("teacherId").GetString(), events[5].Data.GetProperty("stars").GetInt32()));

        var log = await school.ListEventsAsync(subject: $"call:{callId}");
        Assert.Equal(events.Select(e => e.Id), log.Items.Select(e => e.Id.ToString()));
        var attempts = await school.ListWebhookAttemptsAsync(endpoint.Endpoint.Id);
        Assert.All(attempts.Items, a => Assert.Equal(204, a.StatusCode));
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, receiver.Pending);
        Assert.DoesNotContain(app.Logs.GetSnapshot(), r => r.Message.Contains(endpoint.Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_receiver_that_fails_three_times_gets_each_event_once_still_in_order()
    {
        await using var receiver = await WebhookReceiver.StartNewAsync();
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "ana", 60);
        var school = app.SdkAs(tenant, "backend", CallernRoles.Service);
        var endpoint = await school.CreateWebhookEndpointAsync(new Sdk.CreateWebhookEndpointRequest { Url = receiver.Url.ToString(), Events = ["wallet.adjustment"] });
        receiver.FailNext(3);

        var admin = app.SdkAs(tenant, "admin", CallernRoles.Admin);
        var first = await admin.AdjustWalletAsync("ana", Guid.NewGuid().ToString(), new Sdk.AdjustmentRequest { Seconds = 600, Reason = "goodwill" });
        var second = await admin.AdjustWalletAsync("ana", Guid.NewGuid().ToString(), new Sdk.AdjustmentRequest { Seconds = -60, Reason = "refund" });
        var received = new List<ReceivedWebhook>();
        for (var i = 0; i < 120 && received.Count(r => r.AnsweredStatus == 204) < 2; i++)
        {
            received.AddRange(await receiver.DrainAsync(TimeSpan.FromMilliseconds(200)));
            app.Clock.Advance(TimeSpan.FromSeconds(2));
        }

        var verifier = new WebhookVerifier([endpoint.Secret], time: app.Clock);
        var ids = received.Select(r => verifier.Verify(r.Body, r.Id, r.Timestamp, r.Signature).Data.GetProperty("id").GetGuid()).ToList();
        Assert.Equal([first.Id, first.Id, first.Id, first.Id, second.Id], ids);
        Assert.Equal([500, 500, 500, 204, 204], received.Select(r => r.AnsweredStatus));
        var attempts = (await school.ListWebhookAttemptsAsync(endpoint.Endpoint.Id)).Items.Reverse().ToList();
        Assert.Equal([500, 500, 500, 204, 204], attempts.Select(a => a.StatusCode ?? 0));
        // The waits grow: about 5, 10 and 20 s between the first event's attempts (each within ±20%).
        var gaps = attempts.Take(4).Zip(attempts.Skip(1).Take(3), (a, b) => (b.AttemptedAt - a.AttemptedAt).TotalSeconds).ToList();
        Assert.All(gaps.Zip([5.0, 10, 20]), g => Assert.InRange(g.First, g.Second * 0.8, g.Second * 1.2 + 2));
    }

    [Fact]
    public async Task Events_raised_while_the_receiver_is_down_are_listed_meanwhile_and_delivered_in_order_when_it_is_back()
    {
        await using var receiver = await WebhookReceiver.StartNewAsync();
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "leo", 60);
        var school = app.SdkAs(tenant, "backend", CallernRoles.Service);
        var endpoint = await school.CreateWebhookEndpointAsync(new Sdk.CreateWebhookEndpointRequest { Url = receiver.Url.ToString(), Events = ["wallet.adjustment"] });
        await receiver.StopAsync();

        var admin = app.SdkAs(tenant, "admin", CallernRoles.Admin);
        var adjustments = new List<Guid>();
        for (var i = 1; i <= 3; i++)
        {
            adjustments.Add((await admin.AdjustWalletAsync("leo", Guid.NewGuid().ToString(), new Sdk.AdjustmentRequest { Seconds = 60 * i, Reason = $"grant {i}" })).Id);
            app.Clock.Advance(TimeSpan.FromMinutes(20));
            await Task.Delay(TimeSpan.FromMilliseconds(300));
        }
        var listed = await school.ListEventsAsync(type: "wallet.adjustment");
        var failedSoFar = (await school.ListWebhookAttemptsAsync(endpoint.Endpoint.Id)).Items;
        await receiver.StartAsync();
        // Each delivery is checked as it arrives, as a receiver does, before the clock moves on.
        var verifier = new WebhookVerifier([endpoint.Secret], time: app.Clock);
        var events = new List<WebhookEvent>();
        for (var i = 0; i < 60 && events.Count < 3; i++)
        {
            events.AddRange((await receiver.DrainAsync(TimeSpan.FromMilliseconds(200)))
                .Where(r => r.AnsweredStatus == 204).Select(d => verifier.Verify(d.Body, d.Id, d.Timestamp, d.Signature)));
            // Steps shorter than the verifier's tolerance: a delivery signed just before a step is still fresh after it.
            app.Clock.Advance(TimeSpan.FromMinutes(4));
        }

        // The grant that opened the wallet came before the endpoint: listed, never sent.
        Assert.Equal(adjustments, listed.Items.Skip(1).Select(e => ((JsonElement)e.Data).GetProperty("id").GetGuid()));
        Assert.NotEmpty(failedSoFar);
        Assert.All(failedSoFar, a => Assert.Null(a.StatusCode));
        Assert.Equal(adjustments, events.Select(e => e.Data.GetProperty("id").GetGuid()));
        Assert.Equal([2L, 3, 4], events.Select(e => e.Sequence));
    }

    [Fact]
    public async Task An_endpoint_failing_for_72_hours_is_disabled_and_the_schools_other_endpoint_is_told()
    {
        await using var down = await WebhookReceiver.StartNewAsync();
        await using var other = await WebhookReceiver.StartNewAsync();
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "ida", 60);
        var school = app.SdkAs(tenant, "backend", CallernRoles.Service);
        var failing = await school.CreateWebhookEndpointAsync(new Sdk.CreateWebhookEndpointRequest { Url = down.Url.ToString(), Events = ["wallet.adjustment"] });
        var watching = await school.CreateWebhookEndpointAsync(new Sdk.CreateWebhookEndpointRequest { Url = other.Url.ToString(), Events = ["webhook_endpoint.disabled"] });
        await down.StopAsync();

        await app.SdkAs(tenant, "admin", CallernRoles.Admin).AdjustWalletAsync("ida", Guid.NewGuid().ToString(), new Sdk.AdjustmentRequest { Seconds = 60, Reason = "lost" });
        var endpoint = await school.GetWebhookEndpointAsync(failing.Endpoint.Id);
        for (var hours = 0; hours < 80 && endpoint.Enabled; hours += 2)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(150));
            app.Clock.Advance(TimeSpan.FromHours(2));
            endpoint = await school.GetWebhookEndpointAsync(failing.Endpoint.Id);
        }
        var told = (await other.DeliveredAsync(1))[0];

        Assert.False(endpoint.Enabled);
        Assert.StartsWith("Deliveries failed for 72 hours", endpoint.DisabledReason);
        var attempts = (await school.ListWebhookAttemptsAsync(failing.Endpoint.Id, limit: 200)).Items;
        Assert.InRange(attempts.Count, 15, 40);
        Assert.All(attempts, a => Assert.Null(a.StatusCode));
        // The clock may have moved one more step after this delivery was signed.
        var disabled = new WebhookVerifier([watching.Secret], TimeSpan.FromHours(3), app.Clock).Verify(told.Body, told.Id, told.Timestamp, told.Signature);
        Assert.Equal(("webhook_endpoint.disabled", $"webhook-endpoint:{failing.Endpoint.Id}"), (disabled.Type, disabled.Subject));
        Assert.Equal(failing.Endpoint.Id, disabled.Data.GetProperty("endpointId").GetGuid());
    }

    [Fact]
    public async Task A_replay_sends_the_chosen_events_again_in_order_and_the_receiver_sees_the_same_ids()
    {
        await using var receiver = await WebhookReceiver.StartNewAsync();
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "max", 60);
        var school = app.SdkAs(tenant, "backend", CallernRoles.Service);
        var endpoint = await school.CreateWebhookEndpointAsync(new Sdk.CreateWebhookEndpointRequest { Url = receiver.Url.ToString(), Events = ["wallet.adjustment"] });
        var admin = app.SdkAs(tenant, "admin", CallernRoles.Admin);
        // The grant that opened the wallet came before the endpoint, at an earlier moment: not in the range.
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var from = app.Clock.GetUtcNow();
        for (var i = 1; i <= 3; i++)
        {
            await admin.AdjustWalletAsync("max", Guid.NewGuid().ToString(), new Sdk.AdjustmentRequest { Seconds = 60 * i, Reason = $"grant {i}" });
        }
        var first = await receiver.DeliveredAsync(3);

        var replayed = await school.ReplayWebhookEventsAsync(endpoint.Endpoint.Id, new Sdk.ReplayRequest { From = from });
        var again = await receiver.DeliveredAsync(3);
        var otherType = await school.ReplayWebhookEventsAsync(endpoint.Endpoint.Id, new Sdk.ReplayRequest { From = from, Types = ["call.ended"] });

        Assert.Equal(3, replayed.Queued);
        Assert.Equal(first.Select(d => d.Id), again.Select(d => d.Id));
        var verifier = new WebhookVerifier([endpoint.Secret], time: app.Clock);
        Assert.Equal([2L, 3, 4], again.Select(d => verifier.Verify(d.Body, d.Id, d.Timestamp, d.Signature).Sequence));
        Assert.Equal(0, otherType.Queued); // outside the endpoint's filter
    }

    [Fact]
    public async Task A_purchase_rolled_back_by_a_constraint_leaves_no_event()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "mia", 60);
        var admin = app.SdkAs(tenant, "admin", CallernRoles.Admin);
        var package = await admin.CreatePackageAsync(new Sdk.PackageInput { Name = "Ten", Minutes = 10, Price = 9.99m, Currency = "EUR" });
        await using (var connection = new NpgsqlConnection(app.Database.ConnectionString))
        {
            // A rule the database checks when the purchase commits, after every statement of it ran (its event's among them).
            await connection.ExecuteAsync(
                """
                CREATE OR REPLACE FUNCTION refuse_test_payment() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.payment_reference = 'refused-by-the-bank' THEN
                        RAISE EXCEPTION 'payment refused' USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NULL;
                END $$;
                DROP TRIGGER IF EXISTS refuse_test_payment ON wallet_purchases;
                CREATE CONSTRAINT TRIGGER refuse_test_payment AFTER INSERT ON wallet_purchases
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_test_payment();
                """);
        }
        var wallets = app.Services.GetRequiredService<Platform.Wallets.WalletStore>();

        var refused = await Assert.ThrowsAsync<PostgresException>(() =>
            wallets.PurchaseAsync(tenant.Id, "mia", package.Id, "refused-by-the-bank", Guid.NewGuid().ToString()));
        var paid = await wallets.PurchaseAsync(tenant.Id, "mia", package.Id, "paid", Guid.NewGuid().ToString());
        var log = await app.SdkAs(tenant, "backend", CallernRoles.Service).ListEventsAsync(type: "wallet.purchase");

        Assert.Equal("23514", refused.SqlState);
        // The wallet's subject: the grant that opened it, then the paid purchase, numbered without a gap.
        var wallet = await app.SdkAs(tenant, "backend", CallernRoles.Service).ListEventsAsync(subject: "wallet:mia");
        Assert.Equal([("wallet.adjustment", 1L), ("wallet.purchase", 2L)], wallet.Items.Select(e => (e.Type, e.Sequence)));
        var only = Assert.Single(log.Items);
        Assert.Equal(paid.Value!.Id, ((JsonElement)only.Data).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task A_rotated_secret_signs_with_both_secrets_for_a_day()
    {
        await using var receiver = await WebhookReceiver.StartNewAsync();
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "zoe", 60);
        var school = app.SdkAs(tenant, "backend", CallernRoles.Service);
        var created = await school.CreateWebhookEndpointAsync(new Sdk.CreateWebhookEndpointRequest { Url = receiver.Url.ToString() });
        var rotated = await school.RotateWebhookSecretAsync(created.Endpoint.Id);
        var admin = app.SdkAs(tenant, "admin", CallernRoles.Admin);

        await admin.AdjustWalletAsync("zoe", Guid.NewGuid().ToString(), new Sdk.AdjustmentRequest { Seconds = 60, Reason = "during the rotation" });
        var during = (await receiver.DeliveredAsync(1))[0];
        new WebhookVerifier([created.Secret], time: app.Clock).Verify(during.Body, during.Id, during.Timestamp, during.Signature);
        new WebhookVerifier([rotated.Secret], time: app.Clock).Verify(during.Body, during.Id, during.Timestamp, during.Signature);
        app.Clock.Advance(TimeSpan.FromHours(25));
        await admin.AdjustWalletAsync("zoe", Guid.NewGuid().ToString(), new Sdk.AdjustmentRequest { Seconds = 60, Reason = "after it" });
        var after = (await receiver.DeliveredAsync(1))[0];

        Assert.NotEqual(created.Secret, rotated.Secret);
        Assert.Equal(2, during.Signature!.Split(' ').Length);
        Assert.Single(after.Signature!.Split(' '));
        new WebhookVerifier([rotated.Secret], time: app.Clock).Verify(after.Body, after.Id, after.Timestamp, after.Signature);
        var old = Assert.Throws<WebhookVerificationException>(() =>
            new WebhookVerifier([created.Secret], time: app.Clock).Verify(after.Body, after.Id, after.Timestamp, after.Signature));
        Assert.Equal("invalid_signature", old.Code);
    }
}
