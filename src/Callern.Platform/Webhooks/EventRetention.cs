using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>Deletes events older than the retention, with their deliveries and attempts, in small batches every few minutes.</summary>
public sealed class EventRetention(NpgsqlDataSource db, IOptions<WebhookOptions> options, TimeProvider time, ILogger<EventRetention> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                var before = time.GetUtcNow() - TimeSpan.FromDays(options.Value.RetentionDays);
                int deleted;
                do
                {
                    deleted = await connection.ExecuteAsync(
                        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < @before LIMIT 1000)", new { before });
                }
                while (deleted > 0);
            }
            catch (Exception error) when (error is NpgsqlException or TimeoutException)
            {
                logger.LogWarning("Old events were not deleted ({Error}); retried in {Interval}.", error.Message, Interval);
            }
        }
    }
}
