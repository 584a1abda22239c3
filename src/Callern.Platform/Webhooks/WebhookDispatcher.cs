using System.Security.Cryptography;
using System.Text.Json;
using Callern.Platform.Infrastructure;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>
/// Delivers queued events on every node, when <see cref="DeliverySignal"/> wakes it. Each round claims due
/// deliveries (<see cref="DeliveryStore.ClaimAsync"/>), sends them at once and records each
/// attempt. A failed attempt is retried after <see cref="RetryDelay"/>, for
/// <see cref="WebhookOptions.RetryHours"/>; then the delivery fails, the endpoint is disabled and a
/// <c>webhook_endpoint.disabled</c> event says so.
/// </summary>
public sealed class WebhookDispatcher(
    NpgsqlDataSource db, DeliverySignal signal, WebhookSender sender, WebhookEndpointStore endpoints, EventOutbox outbox,
    IOptions<WebhookOptions> options, IOptions<JsonOptions> json, TimeProvider time, ILogger<WebhookDispatcher> logger) : BackgroundService
{
    public static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan LongestRetry = TimeSpan.FromHours(4);
    private static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);
    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;

    /// <summary>
    /// The wait before retry <paramref name="attempts"/> + 1: 5 s doubling to at most 4 h, each
    /// between 80% and 120% of that so that many failed deliveries do not return together.
    /// </summary>
    public static TimeSpan RetryDelay(int attempts)
    {
        var exponential = FirstRetry * Math.Pow(2, Math.Min(attempts - 1, 20));
        var capped = exponential < LongestRetry ? exponential : LongestRetry;
        return capped * (0.8 + 0.4 * Random.Shared.NextDouble());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ = TickAsync(stoppingToken);
        while (await signal.WaitAsync(stoppingToken))
        {
            try
            {
                int attempted;
                do
                {
                    attempted = await RoundAsync(stoppingToken);
                }
                while (attempted > 0);
            }
            catch (Exception error) when (error is NpgsqlException or TimeoutException)
            {
                logger.LogWarning("Webhook deliveries wait: the database is unavailable ({Error}).", error.Message);
            }
            catch (CryptographicException error)
            {
                logger.LogError("Webhook deliveries wait: a signing secret cannot be read ({Error}); is the Data Protection key ring shared by every node?", error.Message);
            }
        }
    }

    private async Task TickAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PollEvery, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            signal.Wake();
        }
    }

    /// <summary>One claim and its attempts; the number of deliveries attempted.</summary>
    private async Task<int> RoundAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        // Longer than an attempt may take: a lease runs out only when its node died mid-attempt.
        var lease = TimeSpan.FromSeconds(settings.AttemptTimeoutSeconds + 15);
        List<ClaimedDelivery> claimed;
        await using (var connection = await db.OpenConnectionAsync(stoppingToken))
        {
            claimed = await DeliveryStore.ClaimAsync(connection, time.GetUtcNow(), lease, settings.Concurrency);
        }
        await Task.WhenAll(claimed.Select(d => AttemptAsync(d, settings, stoppingToken)));
        return claimed.Count;
    }

    private async Task AttemptAsync(ClaimedDelivery delivery, WebhookOptions settings, CancellationToken stoppingToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(
            new EventLog.Row(delivery.EventId, delivery.Type, delivery.EventCreatedAt, delivery.TenantId, delivery.Subject, delivery.Sequence, delivery.Data).ToEvent(),
            _json);
        var outcome = await sender.SendAsync(
            delivery.EndpointId, new Uri(delivery.Url), delivery.EventId.ToString(), time.GetUtcNow().ToUnixTimeSeconds(), body,
            endpoints.Secrets(delivery.ProtectedSecret, delivery.ProtectedPrevious, delivery.PreviousSecretUntil?.AsUtc()), stoppingToken);
        var now = time.GetUtcNow();
        var retryAt = now + RetryDelay(delivery.Attempts);
        var gaveUp = !outcome.Delivered && retryAt > delivery.CreatedAt.AsUtc() + TimeSpan.FromHours(settings.RetryHours);
        await using var connection = await db.OpenConnectionAsync(CancellationToken.None);
        await using var transaction = await connection.BeginTransactionAsync(CancellationToken.None);
        await DeliveryStore.RecordAsync(connection, transaction, delivery, outcome, now.ToDatabasePrecision(), outcome.Delivered || gaveUp ? null : retryAt);
        if (gaveUp)
        {
            var reason = $"Deliveries failed for {settings.RetryHours} hours; the last attempt: {outcome.Error ?? $"HTTP {outcome.StatusCode}"}.";
            if (await DeliveryStore.DisableFailingAsync(connection, transaction, delivery.EndpointId, reason, now.ToDatabasePrecision()))
            {
                await outbox.AppendAsync(transaction, delivery.TenantId, EventTypes.EndpointDisabled, EventTypes.Endpoint(delivery.EndpointId),
                    new { endpointId = delivery.EndpointId, url = delivery.Url, reason, failedEventId = delivery.EventId });
                logger.LogWarning("Webhook endpoint {EndpointId} disabled: {Reason}", delivery.EndpointId, reason);
            }
        }
        await transaction.CommitAsync(CancellationToken.None);
    }
}
