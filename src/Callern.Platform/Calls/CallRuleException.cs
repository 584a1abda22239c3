namespace Callern.Platform.Calls;

/// <summary>
/// A call rule refused the request. <see cref="Code"/> is stable (docs/calls.md): the hub sends it
/// as the error code, REST as the problem's <c>code</c> with <see cref="Status"/>.
/// </summary>
public sealed class CallRuleException(string code, string message, int status) : Exception(message)
{
    public string Code { get; } = code;
    public int Status { get; } = status;

    public static CallRuleException NotFound() => new("call_not_found", "No such call for you.", StatusCodes.Status404NotFound);
    public static CallRuleException OfferNotFound() => new("offer_not_found", "No such offer for you.", StatusCodes.Status404NotFound);
    public static CallRuleException OfferClosed() => new("offer_closed", "The offer was already answered, revoked or timed out.", StatusCodes.Status409Conflict);
    public static CallRuleException NoMinutes() => new("no_minutes", "The student has no minutes: buy a package first.", StatusCodes.Status402PaymentRequired);
    public static CallRuleException CallInProgress() => new("call_in_progress", "The student already has a live call.", StatusCodes.Status409Conflict);
    public static CallRuleException TeacherBusy() => new("teacher_busy", "The teacher is already in a call.", StatusCodes.Status409Conflict);
    public static CallRuleException CallEnded() => new("call_ended", "The call has ended.", StatusCodes.Status409Conflict);
    public static CallRuleException WrongState(string message) => new("invalid_state", message, StatusCodes.Status409Conflict);
    public static CallRuleException AlreadyRated() => new("already_rated", "This call was already rated.", StatusCodes.Status409Conflict);
    public static CallRuleException Invalid(string message) => new("invalid_argument", message, StatusCodes.Status400BadRequest);
}
