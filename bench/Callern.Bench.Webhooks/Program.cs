// Webhook deliveries per second from one node to one local receiver: the platform's own outbox,
// endpoint store, sender and dispatcher (as the platform registers them) against a fresh database
// on a real PostgreSQL, and a receiver on Kestrel (loopback) that answers 204.
//   dotnet run -c Release --project bench/Callern.Bench.Webhooks -- --db "<server connection string>" \
//       --subjects 1000 --events-per-subject 10 [--concurrency 16]
// Events are written first (nothing sends meanwhile), then the dispatcher starts and the run ends
// when the receiver has every one; it checks that each subject's events arrived in order, once.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Callern.Platform.Infrastructure;
using Callern.Platform.Webhooks;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

var options = new CommandLine(args);
var server = options.Text("--db", Environment.GetEnvironmentVariable("CALLERN_BENCH_DB") ?? "");
var subjects = options.Number("--subjects", 1000);
var perSubject = options.Number("--events-per-subject", 10);
var concurrency = options.Number("--concurrency", 16);
if (server.Length == 0)
{
    throw new ArgumentException("Give --db \"<PostgreSQL server connection string>\" or CALLERN_BENCH_DB.");
}
var total = subjects * perSubject;

// The receiver: records each event id once with its subject and sequence, in arrival order.
var received = new ConcurrentDictionary<string, (string Subject, long Sequence)>();
var arrivals = new ConcurrentQueue<(string Subject, long Sequence)>();
var duplicates = 0;
var allIn = new TaskCompletionSource();
var receiverBuilder = WebApplication.CreateSlimBuilder();
receiverBuilder.Logging.ClearProviders();
receiverBuilder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
await using var receiver = receiverBuilder.Build();
receiver.MapPost("/hooks", async (HttpRequest request) =>
{
    using var body = await JsonDocument.ParseAsync(request.Body);
    var root = body.RootElement;
    var item = (root.GetProperty("subject").GetString()!, root.GetProperty("sequence").GetInt64());
    if (received.TryAdd(root.GetProperty("id").GetString()!, item))
    {
        arrivals.Enqueue(item);
        if (received.Count == total)
        {
            allIn.TrySetResult();
        }
    }
    else
    {
        Interlocked.Increment(ref duplicates);
    }
    return Results.NoContent();
});
await receiver.StartAsync();

DefaultTypeMap.MatchNamesWithUnderscores = true;
var database = "callern_bench_" + Guid.NewGuid().ToString("N")[..12];
await using (var admin = new NpgsqlConnection(server))
{
    await admin.ExecuteAsync($"CREATE DATABASE {database}");
}
try
{
    await using var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(server) { Database = database, MaxPoolSize = concurrency + 8 }.ConnectionString);
    await new MigrationRunner(db, NullLogger<MigrationRunner>.Instance).RunAsync(CancellationToken.None);
    var time = TimeProvider.System;
    var json = Options.Create(new Microsoft.AspNetCore.Http.Json.JsonOptions());
    var settings = Options.Create(new WebhookOptions { AllowLocalReceivers = true, Concurrency = concurrency });
    var outbox = new EventOutbox(json, time);
    var endpoints = new WebhookEndpointStore(db, new EphemeralDataProtectionProvider(), time);
    var tenantId = Guid.CreateVersion7();
    await using (var connection = await db.OpenConnectionAsync())
    {
        await connection.ExecuteAsync("INSERT INTO tenants (id, name, created_at) VALUES (@tenantId, 'Bench School', now())", new { tenantId });
    }
    await endpoints.CreateAsync(tenantId, $"{receiver.Urls.First()}/hooks", null, "bench");

    // The events: each subject's in order, 100 per transaction.
    var drafts = Enumerable.Range(0, perSubject)
        .SelectMany(n => Enumerable.Range(0, subjects).Select(s => new EventDraft(EventTypes.CallEnded, $"call:bench-{s}", new { n, payload = new string('x', 200) })))
        .ToList();
    await using (var connection = await db.OpenConnectionAsync())
    {
        foreach (var batch in drafts.Chunk(100))
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await outbox.AppendAsync(transaction, tenantId, batch);
            await transaction.CommitAsync();
        }
    }

    var environment = new HostEnvironment();
    using var sender = new WebhookSender(settings, environment);
    var signal = new DeliverySignal();
    var dispatcher = new WebhookDispatcher(db, signal, sender, endpoints, outbox, settings, json, time, NullLogger<WebhookDispatcher>.Instance);
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    await dispatcher.StartAsync(CancellationToken.None);
    signal.Wake();
    var finished = await Task.WhenAny(allIn.Task, Task.Delay(TimeSpan.FromMinutes(5)));
    var elapsed = clock.Elapsed;
    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    await dispatcher.StopAsync(CancellationToken.None);

    var outOfOrder = arrivals.GroupBy(a => a.Subject).Count(g => !g.Select(a => a.Sequence).SequenceEqual(Enumerable.Range(1, g.Count()).Select(i => (long)i)));
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; concurrency {concurrency}");
    Console.WriteLine($"{received.Count:N0} of {total:N0} events ({subjects:N0} subjects x {perSubject}) delivered in {elapsed.TotalSeconds:F1} s: " +
        $"{received.Count / elapsed.TotalSeconds:N0} deliveries/s; this process (dispatcher and receiver) {cpu.TotalMilliseconds * 1000 / Math.Max(1, received.Count):N0} µs CPU per delivery");
    Console.WriteLine($"duplicates: {duplicates}; subjects out of order: {outOfOrder}");
    return finished == allIn.Task && duplicates == 0 && outOfOrder == 0 ? 0 : 1;
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await using var admin = new NpgsqlConnection(server);
    await admin.ExecuteAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
}

/// <summary>The sender reads only the environment's name (AllowLocalReceivers is set).</summary>
sealed class HostEnvironment : IHostEnvironment
{
    public string EnvironmentName { get; set; } = "Production";
    public string ApplicationName { get; set; } = "Callern.Bench.Webhooks";
    public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
    public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
}
