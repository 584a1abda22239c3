using System.Text.Json;
using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Callern.Platform.Tenancy;
using Callern.Platform.Wallets;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Demo;

public sealed class DemoOptions
{
    /// <summary>Seed the demo school at start-up (./run.sh turns this on).</summary>
    public bool Seed { get; set; }
    /// <summary>Where to write demo.json with the demo tenant's key; ./run.sh uses .callern/demo.json.</summary>
    public string? OutputPath { get; set; }
    public string BaseUrl { get; set; } = "http://127.0.0.1:5080";
}

public sealed record DemoUsers(string Admin, IReadOnlyList<string> Students, IReadOnlyList<string> Teachers);

public sealed record DemoFile(string BaseUrl, Guid TenantId, string ApiKeyId, string ApiKeySecret, string OperatorKey, DemoUsers Users);

/// <summary>
/// The demo school: one tenant, one API key, an admin, students and teachers with varied
/// languages, accents, levels, specializations and time zones, a package catalog, and a paid
/// package for each student. Safe to run on every start: it finds the tenant it made before,
/// upserts the same people, adds only missing packages, and records each student's purchase under
/// a fixed Idempotency-Key, so a second run credits nothing.
/// </summary>
public sealed class DemoSeed(
    NpgsqlDataSource db, TenantStore tenants, ApiKeyStore keys, PeopleStore people, PackageStore packages, WalletStore wallets,
    IOptions<DemoOptions> options, IOptions<TenancyOptions> tenancy, ILogger<DemoSeed> logger)
{
    public const string TenantName = "Callern Demo School";
    public const string AdminId = "admin-1";

    private static readonly (string Id, StudentInput Profile)[] Students =
    [
        ("student-ana", new("Ana Souza", "en", "B1", "America/Sao_Paulo", new("en-US", "conversational"), "Speak confidently at work")),
        ("student-kenji", new("Kenji Tanaka", "en", "B2", "Asia/Tokyo", new("en-GB", "business"), "Pass a job interview in English")),
        ("student-lea", new("Léa Martin", "es", "A2", "Europe/Paris", new("es-MX", "travel"), "Travel through Mexico")),
        ("student-omar", new("Omar Haddad", "en", "C1", "Asia/Dubai", new("en-GB", "exam-preparation"), "IELTS band 8")),
        ("student-mia", new("Mia Becker", "fr", "A1", "Europe/Berlin", new("fr-FR", "kids"), "First words in French")),
    ];

    private static readonly (string Id, TeacherInput Profile)[] Teachers =
    [
        ("teacher-emma", new("Emma Clarke", [new("en-GB", ["B1", "B2", "C1", "C2"])], ["business", "exam-preparation"], "Europe/London",
            "Cambridge examiner, ten years of business English.", null)),
        ("teacher-jack", new("Jack Miller", [new("en-US", ["A1", "A2", "B1", "B2"])], ["conversational", "kids"], "America/New_York",
            "Former primary teacher from Boston; patient with beginners.", null)),
        ("teacher-olivia", new("Olivia Brown", [new("en-AU", ["A2", "B1", "B2", "C1"])], ["conversational", "travel"], "Australia/Sydney",
            "Backpacked across Asia; loves travel English.", null)),
        ("teacher-liam", new("Liam O'Connor", [new("en-IE", ["B2", "C1", "C2"]), new("fr-FR", ["A1", "A2"])], ["academic", "exam-preparation"],
            "Europe/Dublin", "PhD in linguistics; academic writing and IELTS.", null)),
        ("teacher-sofia", new("Sofía García", [new("es-ES", ["A1", "A2", "B1", "B2", "C1"])], ["conversational", "business"], "Europe/Madrid",
            "Madrileña, business Spanish for teams.", null)),
        ("teacher-diego", new("Diego Hernández", [new("es-MX", ["A1", "A2", "B1"]), new("en-US", ["A1", "A2"])], ["travel", "kids"],
            "America/Mexico_City", "Makes Mexican Spanish fun for travellers and kids.", null)),
        ("teacher-camille", new("Camille Dubois", [new("fr-FR", ["A1", "A2", "B1", "B2", "C1", "C2"])], ["conversational", "academic"],
            "Europe/Paris", "Parisian, DELF/DALF preparation.", null)),
        ("teacher-priya", new("Priya Sharma", [new("en-IN", ["A1", "A2", "B1", "B2"])], ["business", "conversational"], "Asia/Kolkata",
            "Corporate trainer; night-owl hours for the Americas.", null)),
    ];

    private static readonly PackageInput[] Catalog =
    [
        new("Starter: 60 minutes", 60, 19.90m, "EUR", 30),
        new("Regular: 300 minutes", 300, 89.00m, "EUR", 90),
        new("Intensive: 1200 minutes", 1200, 299.00m, "EUR", null),
    ];

    public async Task<DemoFile> RunAsync()
    {
        var settings = options.Value;
        await using var connection = await db.OpenConnectionAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            // Two nodes seeding at once must still make one demo tenant.
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtext('callern-demo-seed'))", transaction: transaction);
            var existing = await connection.QuerySingleRowOrDefaultAsync<Guid?>(
                "SELECT id FROM tenants WHERE name = @TenantName ORDER BY created_at LIMIT 1", new { TenantName }, transaction);
            await transaction.CommitAsync();
            if (existing is null)
            {
                await tenants.CreateAsync(TenantName);
            }
        }
        var tenantId = await connection.QuerySingleRowAsync<Guid>(
            "SELECT id FROM tenants WHERE name = @TenantName ORDER BY created_at LIMIT 1", new { TenantName });
        var key = (await keys.ListAsync(tenantId)).FirstOrDefault(k => k.RevokedAt is null);
        var keyId = key?.KeyId ?? (await keys.CreateAsync(tenantId)).KeyId;
        var secret = await keys.RevealAsync(tenantId, keyId) ?? throw new InvalidOperationException("Demo key vanished.");
        foreach (var (id, profile) in Students)
        {
            await people.UpsertStudentAsync(tenantId, id, profile);
        }
        foreach (var (id, profile) in Teachers)
        {
            await people.UpsertTeacherAsync(tenantId, id, profile);
        }
        await SeedWalletsAsync(tenantId);
        var demo = new DemoFile(settings.BaseUrl, tenantId, keyId, secret, tenancy.Value.OperatorKey,
            new DemoUsers(AdminId, Students.Select(s => s.Id).ToList(), Teachers.Select(t => t.Id).ToList()));
        if (settings.OutputPath is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(demo, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
            logger.LogInformation("Demo tenant {TenantId} ready; credentials written to {Path}", tenantId, path);
        }
        return demo;
    }

    private async Task SeedWalletsAsync(Guid tenantId)
    {
        var existing = await packages.ListAsync(tenantId, includeArchived: true, after: null, limit: 200);
        var catalog = new List<Package>();
        foreach (var input in Catalog)
        {
            catalog.Add(existing.FirstOrDefault(p => p.Name == input.Name) ?? await packages.CreateAsync(tenantId, input));
        }
        // Student i buys package i mod 3: balances from one hour to twenty, some expiring, one not.
        foreach (var ((id, _), i) in Students.Select((s, i) => (s, i)))
        {
            await wallets.PurchaseAsync(tenantId, id, catalog[i % catalog.Count].Id, "demo-seed", $"demo-seed-purchase-{id}");
        }
    }
}

public static class DemoSeedExtensions
{
    public static async Task SeedDemoIfEnabledAsync(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<DemoOptions>>().Value.Seed)
        {
            await app.Services.GetRequiredService<DemoSeed>().RunAsync();
        }
    }
}

public static class DemoServices
{
    public static IServiceCollection AddDemo(this IServiceCollection services, IConfiguration configuration) =>
        services.Configure<DemoOptions>(configuration.GetSection("Callern:Demo")).AddSingleton<DemoSeed>();
}
