using System.Threading.Channels;
using Dapper;
using Npgsql;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// A feature's cache that must hear of changes made on other nodes: it names the PostgreSQL
/// notification channel it listens on, and what to do with each payload heard there.
/// </summary>
public interface INoticeHandler
{
    string Channel { get; }

    void Heard(string payload);

    /// <summary>The node was not listening for a while (started, or its listening connection dropped): notices may have been missed.</summary>
    void MayHaveMissed();
}

/// <summary>
/// Tells every node (this one included) of a change through PostgreSQL <c>NOTIFY</c>: every node
/// already shares the database, so the notices need no Redis, and one node works the same without
/// it (docs/deployment.md, "Caches"). <see cref="Publish"/> never waits: notices queue, and
/// <see cref="NoticeSender"/> sends them.
/// </summary>
public sealed class Notices
{
    private readonly Channel<(string Channel, string Payload)> _queue = Channel.CreateUnbounded<(string, string)>(new() { SingleReader = true });

    public void Publish(string channel, string payload) => _queue.Writer.TryWrite((channel, payload));

    internal ChannelReader<(string Channel, string Payload)> Queued => _queue.Reader;
}

/// <summary>
/// Sends the queued <see cref="Notices"/>, each distinct one once, in one statement per batch. A
/// notice lost while the database is away costs only freshness: every cache also expires by time.
/// </summary>
public sealed class NoticeSender(Notices notices, NpgsqlDataSource db, ILogger<NoticeSender> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (await notices.Queued.WaitToReadAsync(stoppingToken))
        {
            var batch = new HashSet<(string Channel, string Payload)>();
            while (notices.Queued.TryRead(out var notice))
            {
                batch.Add(notice);
            }
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                await connection.ExecuteAsync(
                    "SELECT pg_notify(c, p) FROM unnest(@channels, @payloads) AS n(c, p)",
                    new { channels = batch.Select(n => n.Channel).ToArray(), payloads = batch.Select(n => n.Payload).ToArray() });
            }
            catch (Exception error) when (error is NpgsqlException or TimeoutException)
            {
                logger.LogWarning("{Count} change notices were not sent ({Error}); other nodes' caches catch up when they expire.", batch.Count, error.Message);
            }
        }
    }
}

/// <summary>
/// LISTENs on every <see cref="INoticeHandler"/>'s channel on one connection of its own, outside the
/// pool (held for the node's life; the requests' pool keeps its full size), and hands each notice
/// to its handlers. Reconnects when the connection drops, and then tells every handler that it may
/// have missed some.
/// </summary>
public sealed class NoticeListener(IConfiguration configuration, IEnumerable<INoticeHandler> handlers, ILogger<NoticeListener> logger) : BackgroundService
{
    /// <summary>A listening connection that has heard nothing for this long proves it is alive with a query.</summary>
    private static readonly TimeSpan ProbeAfter = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly string _connectionString = new NpgsqlConnectionStringBuilder(
        configuration.GetConnectionString("Callern") ?? throw new InvalidOperationException("ConnectionStrings:Callern is not set."))
    { Pooling = false }.ConnectionString;

    private readonly ILookup<string, INoticeHandler> _byChannel = handlers.ToLookup(h => h.Channel, StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            try
            {
                await ListenAsync(stoppingToken);
            }
            catch (Exception error) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Not listening for other nodes' changes ({Error}); caches fall back to their expiry until it is back.", error.Message);
            }
            // Cancelled at shutdown: the host expects that.
            await Task.Delay(RetryAfter, stoppingToken);
        }
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(stoppingToken);
        connection.Notification += (_, notice) =>
        {
            foreach (var handler in _byChannel[notice.Channel])
            {
                handler.Heard(notice.Payload);
            }
        };
        foreach (var channel in _byChannel.Select(g => g.Key))
        {
            await using var listen = new NpgsqlCommand($"LISTEN {channel}", connection);
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }
        // Whatever changed while nobody listened.
        foreach (var handler in _byChannel.SelectMany(g => g))
        {
            handler.MayHaveMissed();
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!await connection.WaitAsync(ProbeAfter, stoppingToken))
            {
                await using var probe = new NpgsqlCommand("SELECT 1", connection);
                await probe.ExecuteScalarAsync(stoppingToken);
            }
        }
    }
}

public static class NoticeServices
{
    public static IServiceCollection AddNotices(this IServiceCollection services) =>
        services.AddSingleton<Notices>()
            .AddHostedService<NoticeSender>()
            .AddHostedService<NoticeListener>();

    /// <summary>Registers <typeparamref name="T"/> (already a singleton) as a handler of notices.</summary>
    public static IServiceCollection AddNoticeHandler<T>(this IServiceCollection services) where T : class, INoticeHandler =>
        services.AddSingleton<INoticeHandler>(sp => sp.GetRequiredService<T>());
}
