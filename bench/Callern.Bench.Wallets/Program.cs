// Call settlements against a real PostgreSQL: many workers each run calls (hold when accepted,
// settle when ended) on their own students for a bounded time, then the ledger is checked.
// Usage: dotnet run -c Release --project bench/Callern.Bench.Wallets -- "<server connection string>" [seconds] [workers] [events]
// (or set CALLERN_BENCH_DB). A fresh database is created on that server and dropped afterwards.
// events: "none" (default: the settlement alone), "outbox" (each settlement also writes its
// call.ended event in its transaction, as CallEnding does), "endpoint" (and the school has a
// webhook endpoint, so each event also queues a delivery; nothing sends them during the run).
// Exit code 1 when the ledger does not balance or a charge is lost or doubled.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Callern.Platform.Wallets;
using Callern.Platform.Webhooks;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

var server = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("CALLERN_BENCH_DB")
    ?? throw new ArgumentException("Give the PostgreSQL connection string as the first argument or CALLERN_BENCH_DB.");
var seconds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
var workers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 32;
var events = args.Length > 3 ? args[3] : "none";
if (events is not ("none" or "outbox" or "endpoint"))
{
    throw new ArgumentException("events: none, outbox or endpoint.");
}
const int StudentsPerWorker = 4;
const long GrantSeconds = 100_000_000;

DefaultTypeMap.MatchNamesWithUnderscores = true;
var database = "callern_bench_" + Guid.NewGuid().ToString("N")[..12];
await using (var admin = new NpgsqlConnection(server))
{
    await admin.ExecuteAsync($"CREATE DATABASE {database}");
}
var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database, MaxPoolSize = workers + 8 }.ConnectionString;
var exitCode = 0;
try
{
    await using var db = NpgsqlDataSource.Create(connectionString);
    await new MigrationRunner(db, NullLogger<MigrationRunner>.Instance).RunAsync(CancellationToken.None);
    var time = TimeProvider.System;
    var people = new PeopleStore(db, [], time);
    var outbox = new EventOutbox(Options.Create(new JsonOptions()), time);
    var wallets = new WalletStore(db, outbox, time);
    var holds = new CallHolds(db, time);

    var tenantId = Guid.CreateVersion7();
    await using (var connection = await db.OpenConnectionAsync())
    {
        await connection.ExecuteAsync("INSERT INTO tenants (id, name, created_at) VALUES (@tenantId, 'Bench School', now())", new { tenantId });
    }
    if (events == "endpoint")
    {
        await new WebhookEndpointStore(db, new EphemeralDataProtectionProvider(), time).CreateAsync(tenantId, "https://receiver.example/hooks", null, "bench");
    }
    // One teacher per worker, as a teacher teaches one call at a time.
    var teachers = Enumerable.Range(0, workers).Select(i => $"teacher-{i}").ToArray();
    foreach (var teacher in teachers)
    {
        await people.UpsertTeacherAsync(tenantId, teacher, new TeacherInput(teacher, [new TeacherLanguage("en-GB", ["B1"])], [], "UTC", null, null));
    }
    var students = new string[workers * StudentsPerWorker];
    for (var i = 0; i < students.Length; i++)
    {
        students[i] = $"student-{i}";
        await people.UpsertStudentAsync(tenantId, students[i], new StudentInput($"Student {i}", null, null, "UTC", null, null));
        await wallets.AdjustAsync(tenantId, students[i], GrantSeconds, "bench balance", null, "bench", $"bench-grant-{i}");
    }

    // Warm-up: connections opened, statements planned, JIT done.
    await RunAsync(TimeSpan.FromSeconds(3));
    // CPU time spent by this process and by the PostgreSQL server (when it runs on this machine),
    // so that a run on a busy machine still tells what one call costs.
    var postmaster = await PostmasterPidAsync();
    var cpuBefore = (Client: Process.GetCurrentProcess().TotalProcessorTime, Server: ServerCpu(postmaster));
    var (settled, charged, holdTimes, settleTimes, elapsed) = await RunAsync(TimeSpan.FromSeconds(seconds));
    var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore.Client;
    var serverCpu = ServerCpu(postmaster) - cpuBefore.Server;

    Console.WriteLine($"machine: {Environment.ProcessorCount} cores; PostgreSQL {await ScalarAsync<string>("SHOW server_version")}, fsync={await ScalarAsync<string>("SHOW fsync")}, synchronous_commit={await ScalarAsync<string>("SHOW synchronous_commit")}");
    Console.WriteLine($"{workers} workers x {StudentsPerWorker} students, events: {events}, {elapsed.TotalSeconds:F1} s measured after a 3 s warm-up");
    Console.WriteLine($"calls settled: {settled:N0}  ->  {settled / elapsed.TotalSeconds:N0} settlements/s (each call also took a hold: {2 * settled / elapsed.TotalSeconds:N0} wallet transactions/s)");
    Console.WriteLine($"settle latency: p50 {Percentile(settleTimes, 0.50):F2} ms  p99 {Percentile(settleTimes, 0.99):F2} ms  max {settleTimes[^1]:F2} ms");
    Console.WriteLine($"hold latency:   p50 {Percentile(holdTimes, 0.50):F2} ms  p99 {Percentile(holdTimes, 0.99):F2} ms  max {holdTimes[^1]:F2} ms");

    if (postmaster is not null)
    {
        var perCall = (clientCpu + serverCpu).TotalMilliseconds / settled;
        Console.WriteLine($"load average at the end: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; CPU per call (hold + settle): " +
            $"{perCall:F2} ms ({serverCpu.TotalMilliseconds / settled:F2} PostgreSQL, {clientCpu.TotalMilliseconds / settled:F2} client) " +
            $"-> at most {Environment.ProcessorCount * 1000 / perCall:N0} settlements/s if these {Environment.ProcessorCount} cores did nothing else");
    }

    exitCode = await CheckLedgerAsync(charged) ? 0 : 1;

    async Task<(long Settled, ConcurrentDictionary<Guid, long> Charged, double[] HoldMs, double[] SettleMs, TimeSpan Elapsed)> RunAsync(TimeSpan duration)
    {
        var chargedByCall = new ConcurrentDictionary<Guid, long>();
        var holdMs = new ConcurrentBag<double[]>();
        var settleMs = new ConcurrentBag<double[]>();
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var myHolds = new List<double>();
            var mySettles = new List<double>();
            for (var n = 0; clock.Elapsed < duration; n++)
            {
                var student = students[w * StudentsPerWorker + n % StudentsPerWorker];
                var call = Guid.CreateVersion7();
                var started = Stopwatch.GetTimestamp();
                var hold = await holds.HoldAsync(tenantId, student, call, 1800);
                myHolds.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                var billed = random.Next(1, 1800);
                started = Stopwatch.GetTimestamp();
                var end = events == "none" ? await holds.SettleAsync(tenantId, call, billed, teachers[w]) : await SettleWithEventAsync(call, billed, teachers[w]);
                mySettles.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (hold.HeldSeconds != 1800 || end!.ChargedSeconds != billed)
                {
                    throw new InvalidOperationException($"call {call}: held {hold.HeldSeconds}, charged {end?.ChargedSeconds} of {billed}");
                }
                chargedByCall[call] = billed;
            }
            holdMs.Add([.. myHolds]);
            settleMs.Add([.. mySettles]);
        })).ToArray();
        await Task.WhenAll(tasks);
        var elapsedTime = clock.Elapsed;
        var holdsSorted = holdMs.SelectMany(x => x).Order().ToArray();
        var settlesSorted = settleMs.SelectMany(x => x).Order().ToArray();
        return (settlesSorted.Length, chargedByCall, holdsSorted, settlesSorted, elapsedTime);
    }

    // The settlement and its call.ended event in one transaction, as CallEnding writes them.
    async Task<CallHold?> SettleWithEventAsync(Guid call, long billed, string teacher)
    {
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var end = await holds.SettleAsync(tenantId, call, billed, teacher, transaction);
        await outbox.AppendAsync(transaction, tenantId, EventTypes.CallEnded, EventTypes.Call(call),
            new { callId = call, reason = "completed", billedSeconds = billed, chargedSeconds = end!.ChargedSeconds });
        await transaction.CommitAsync();
        return end;
    }

    // Every call the workers saw settle has exactly one charge of the billed amount, nothing else
    // was charged, every wallet equals the sum of its entries, and no second was created or lost.
    async Task<bool> CheckLedgerAsync(ConcurrentDictionary<Guid, long> measured)
    {
        await using var connection = await db.OpenConnectionAsync();
        var charges = (await connection.QueryAsync<(Guid CallId, long Seconds)>(
            "SELECT call_id, -held_delta FROM wallet_entries WHERE kind = 'charge'")).ToList();
        var byCall = charges.GroupBy(c => c.CallId).ToDictionary(g => g.Key, g => g.ToList());
        var duplicates = byCall.Count(g => g.Value.Count > 1);
        var lost = measured.Count(m => !byCall.TryGetValue(m.Key, out var c) || c.Count != 1 || c[0].Seconds != m.Value);
        var unbalanced = await connection.ExecuteScalarAsync<long>(
            """
            SELECT count(*) FROM wallets w
            LEFT JOIN (SELECT tenant_id, student_id, sum(available_delta) AS available, sum(held_delta) AS held
                       FROM wallet_entries GROUP BY tenant_id, student_id) e USING (tenant_id, student_id)
            WHERE w.available_seconds <> coalesce(e.available, 0) OR w.held_seconds <> coalesce(e.held, 0) OR w.held_seconds <> 0
            """);
        var totals = await connection.QuerySingleAsync<(long Available, long Charged, long Earned, long Calls)>(
            """
            SELECT (SELECT sum(available_seconds) FROM wallets)::bigint,
                   (SELECT coalesce(-sum(held_delta), 0) FROM wallet_entries WHERE kind = 'charge')::bigint,
                   (SELECT coalesce(sum(seconds), 0) FROM teacher_earnings)::bigint,
                   (SELECT count(*) FROM wallet_holds WHERE state = 'settled')
            """);
        var conserved = totals.Available + totals.Charged == GrantSeconds * students.Length && totals.Earned == totals.Charged
            && totals.Calls == charges.Count;
        Console.WriteLine($"ledger check: {charges.Count:N0} charges for {totals.Calls:N0} settled calls (warm-up included), " +
            $"{duplicates} duplicate, {lost} lost or wrong of {measured.Count:N0} measured, {unbalanced} unbalanced wallets, " +
            $"seconds conserved: {conserved}, teacher earnings = charges: {totals.Earned == totals.Charged}");
        return duplicates == 0 && lost == 0 && unbalanced == 0 && conserved;
    }

    async Task<int?> PostmasterPidAsync()
    {
        try
        {
            var pidFile = Path.Combine(await ScalarAsync<string>("SHOW data_directory"), "postmaster.pid");
            return File.Exists(pidFile) ? int.Parse(File.ReadLines(pidFile).First(), CultureInfo.InvariantCulture) : null;
        }
        catch (Exception exception) when (exception is PostgresException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql))!;
    }
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await using var admin = new NpgsqlConnection(server);
    await admin.ExecuteAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
}
return exitCode;

// utime + stime of the postmaster's children (the backends), from /proc; zero when not on this machine.
static TimeSpan ServerCpu(int? postmaster)
{
    if (postmaster is null)
    {
        return TimeSpan.Zero;
    }
    var ticks = 0L;
    foreach (var dir in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
    {
        try
        {
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (int.Parse(fields[1], CultureInfo.InvariantCulture) == postmaster)
            {
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
            // The process ended while we looked.
        }
    }
    return TimeSpan.FromSeconds(ticks / 100.0);
}

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
