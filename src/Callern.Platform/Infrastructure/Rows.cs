using System.Data.Common;
using System.Globalization;
using Dapper;
using Npgsql;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// Queries whose rows are read whole by <c>ReadAsync</c> before Dapper maps them. Dapper's own async
/// queries open the reader with <c>CommandBehavior.SequentialAccess</c>; under it Npgsql fetches a
/// column that has not arrived yet with a synchronous socket read inside Dapper's (synchronous) row
/// mapping, so a result larger than one network read blocks a thread-pool thread until PostgreSQL
/// sends the rest. At 2,000 calls, ticks and the available-teachers snapshot held pool threads that
/// way for 53 s of a 100 s trace (docs/performance.md; the seconds-long stalls of that run were
/// mostly two badly planned statements). A reader without that flag makes Npgsql buffer each row in
/// <c>ReadAsync</c>, so mapping never waits.
/// Dapper still binds the parameters and builds (and caches) the mapping.
/// </summary>
public static class Rows
{
    public static async Task<List<T>> QueryRowsAsync<T>(this NpgsqlConnection connection, string sql, object? param = null, NpgsqlTransaction? transaction = null)
    {
        await using var results = await connection.QueryResultsAsync(sql, param, transaction);
        return await results.ReadAsync<T>();
    }

    /// <summary>Exactly one row, as Dapper's <c>QuerySingleAsync</c>: none or several throw.</summary>
    public static async Task<T> QuerySingleRowAsync<T>(this NpgsqlConnection connection, string sql, object? param = null, NpgsqlTransaction? transaction = null)
    {
        await using var results = await connection.QueryResultsAsync(sql, param, transaction);
        return await results.ReadSingleAsync<T>();
    }

    /// <summary>One row or none (the default), as Dapper's <c>QuerySingleOrDefaultAsync</c>: several throw.</summary>
    public static async Task<T?> QuerySingleRowOrDefaultAsync<T>(this NpgsqlConnection connection, string sql, object? param = null, NpgsqlTransaction? transaction = null)
    {
        await using var results = await connection.QueryResultsAsync(sql, param, transaction);
        return await results.ReadSingleOrDefaultAsync<T>();
    }

    /// <summary>Several statements in one round trip; their result sets are read in order.</summary>
    public static async Task<RowResults> QueryResultsAsync(this NpgsqlConnection connection, string sql, object? param = null, NpgsqlTransaction? transaction = null) =>
        new(await connection.ExecuteReaderAsync(sql, param, transaction));
}

/// <summary>The result sets of <see cref="Rows.QueryResultsAsync"/>: each read takes the next one.</summary>
public sealed class RowResults(DbDataReader reader) : IAsyncDisposable
{
    private bool _started;

    public async Task<List<T>> ReadAsync<T>()
    {
        if (_started && !await reader.NextResultAsync())
        {
            throw new InvalidOperationException("The query has no more result sets.");
        }
        _started = true;
        var rows = new List<T>();
        if (!reader.HasRows)
        {
            return rows;
        }
        var parse = reader.GetRowParser(typeof(T));
        while (await reader.ReadAsync())
        {
            rows.Add(As<T>(parse(reader)));
        }
        return rows;
    }

    public async Task<T> ReadSingleAsync<T>()
    {
        var rows = await ReadAsync<T>();
        return rows.Count == 1 ? rows[0] : throw new InvalidOperationException($"Expected one row, got {rows.Count}.");
    }

    public async Task<T?> ReadSingleOrDefaultAsync<T>()
    {
        var rows = await ReadAsync<T>();
        return rows.Count switch
        {
            0 => default,
            1 => rows[0],
            _ => throw new InvalidOperationException($"Expected at most one row, got {rows.Count}."),
        };
    }

    public ValueTask DisposeAsync() => reader.DisposeAsync();

    /// <summary>As Dapper converts a single column: null to a nullable or reference type's default, other values with <see cref="Convert.ChangeType(object, Type, IFormatProvider)"/>.</summary>
    private static T As<T>(object? value) => value switch
    {
        T typed => typed,
        null => default(T) is null ? default! : throw new InvalidOperationException($"A NULL cannot be read as {typeof(T).Name}."),
        _ => (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), CultureInfo.InvariantCulture),
    };
}
