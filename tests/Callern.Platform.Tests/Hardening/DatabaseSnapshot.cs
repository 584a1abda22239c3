using Npgsql;

namespace Callern.Platform.Tests.Hardening;

/// <summary>Every row of every table of the platform's database, as text: two snapshots are equal when nothing changed.</summary>
public sealed class DatabaseSnapshot
{
    private readonly Dictionary<string, HashSet<string>> _tables;

    private DatabaseSnapshot(Dictionary<string, HashSet<string>> tables) => _tables = tables;

    public static async Task<DatabaseSnapshot> TakeAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var names = new List<string>();
        await using (var list = new NpgsqlCommand(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1", connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                names.Add(reader.GetString(0));
            }
        }
        var tables = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var rows = tables[name] = new HashSet<string>(StringComparer.Ordinal);
            await using var select = new NpgsqlCommand($"SELECT t::text FROM \"{name}\" t", connection);
            await using var reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add(reader.GetString(0));
            }
        }
        return new DatabaseSnapshot(tables);
    }

    /// <summary>What differs from <paramref name="before"/>, table by table (at most a few rows each); empty when nothing changed.</summary>
    public string DifferencesFrom(DatabaseSnapshot before) => string.Join("\n", _tables.Keys.Union(before._tables.Keys).Order(StringComparer.Ordinal)
        .Select(name =>
        {
            var now = _tables.GetValueOrDefault(name) ?? [];
            var then = before._tables.GetValueOrDefault(name) ?? [];
            var added = now.Except(then).Take(3).Select(r => "+ " + r);
            var removed = then.Except(now).Take(3).Select(r => "- " + r);
            var lines = added.Concat(removed).ToList();
            return lines.Count == 0 ? null : $"{name}:\n  {string.Join("\n  ", lines)}";
        })
        .Where(d => d is not null));
}
