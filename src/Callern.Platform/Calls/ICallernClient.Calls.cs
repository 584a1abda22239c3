namespace Callern.Platform.Signaling;

/// <summary>Call events (docs/calls.md lists them in order for each side).</summary>
public partial interface ICallernClient
{
    Task CallQueued(Calls.CallQueuedEvent e);
    Task CallRinging(Calls.CallRingingEvent e);
    Task IncomingCall(Calls.IncomingCallEvent e);
    Task OfferClosed(Calls.OfferClosedEvent e);
    Task CallAccepted(Calls.CallAcceptedEvent e);
    Task Signal(Calls.SignalEvent e);
    Task CallConnected(Calls.CallConnectedEvent e);
    Task CallTimer(Calls.CallTimerEvent e);
    Task BalanceWarning(Calls.BalanceWarningEvent e);
    Task PeerConnection(Calls.PeerConnectionEvent e);
    Task CallEnded(Calls.CallEndedEvent e);
    Task LiveCall(Calls.LiveCallEvent e);
    Task PeerRejoined(Calls.PeerRejoinedEvent e);
}
