using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Npgsql;

namespace Callern.Platform.Calls;

/// <summary>The student rates the teacher of a call that connected and ended, once; ratings feed matching.</summary>
public sealed class CallRatings(NpgsqlDataSource db, CallEvents events, TimeProvider time)
{
    public async Task<Call> RateAsync(Caller student, Guid callId, int stars, string? comment)
    {
        await using var connection = await db.OpenConnectionAsync();
        var call = await RatingStore.FindStudentCallAsync(connection, student, callId) ?? throw CallRuleException.NotFound();
        if (call.State != CallState.Ended || call.ConnectedAt is null || call.TeacherId is null)
        {
            throw CallRuleException.WrongState("Only a call that connected and ended can be rated.");
        }
        var now = time.GetUtcNow();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            if (!await RatingStore.InsertAsync(connection, transaction, student, callId, call.TeacherId, stars, comment, now))
            {
                throw CallRuleException.AlreadyRated();
            }
            await events.RatedAsync(transaction, student.TenantId, new CallRatedData(callId, student.UserId, call.TeacherId, stars, comment, now.ToDatabasePrecision()));
            await transaction.CommitAsync();
        }
        return (await CallStore.GetAsync(connection, student.TenantId, callId))!;
    }
}
